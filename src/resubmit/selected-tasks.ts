import { loadPlanTask, openPlanTasks } from "../plan/load-plan.js";
import { readFirstLine } from "../plan/plan-head.js";
import type { PlanTask } from "../schemas/records.js";

/** Up to this many tasks (and a small share of the plan), each is read at its offsets; more, and the plan is read in order. */
const BY_OFFSET_MAX = 256;

/**
 * The plan tasks at `indices` (ascending), each handed to `fn` as it is read and not kept: a few
 * tasks of a 200,000-task plan are read where the offsets file says their lines are (run-one's
 * reader), a large share by reading the plan's lines in order and skipping the others. Memory
 * does not grow with the plan, nor with the selection (docs/scale.md).
 */
export async function forEachSelectedTask(planFile: string, taskCount: number, indices: readonly number[], fn: (task: PlanTask) => void | Promise<void>): Promise<void> {
  if (indices.length === 0) return;
  if (indices.length <= BY_OFFSET_MAX && indices.length * 16 <= taskCount && readFirstLine(planFile)?.kind === "v2") {
    for (const i of indices) await fn((await loadPlanTask(planFile, i)).task);
    return;
  }
  const wanted = new Uint8Array(taskCount);
  for (const i of indices) wanted[i] = 1;
  const plan = await openPlanTasks(planFile);
  try {
    await plan.forEach((t) => (wanted[t.index] === 1 ? fn(t) : undefined));
  } finally {
    plan.close();
  }
}
