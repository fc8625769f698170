import type { PlanTaskRef } from "../schemas/plan.js";
import { openTaskStateReader } from "../state/task-state.js";

export interface PendingSelection {
  /** Plan indices to submit, in plan order. */
  pending: number[];
  /** Done with the plan's config hash: not submitted. */
  done: number[];
  /** Lock held by a live run right now: not submitted (that run records the outcome). */
  running: number[];
  /** The keys of the first running tasks (at most RUNNING_KEYS), for the note that names them. */
  runningKeys: string[];
  /** Damaged state files seen while reading: path, reason and what becomes of it (as status and collect report them). */
  problems: string[];
}

/**
 * The plan tasks a submit looks at: a list, or a stream of them in plan order (a 200,000-task
 * plan read from its file without holding the tasks, as `openPlanRefs` gives it).
 */
export type PlanTaskSource = { tasks: readonly PlanTaskRef[] } | { forEach(fn: (task: PlanTaskRef) => void | Promise<void>): Promise<void> };

/** How many running tasks the note names. */
export const RUNNING_KEYS = 5;

/** Subject folders read per batch (64 reads in flight within it); a batch's states are dropped once classified. */
const BATCH = 256;

/** Every task of `source`, in order. */
export async function forEachPlanTask(source: PlanTaskSource, fn: (task: PlanTaskRef) => void | Promise<void>): Promise<void> {
  if ("tasks" in source) {
    for (const t of source.tasks) await fn(t);
    return;
  }
  await source.forEach(fn);
}

/**
 * Which plan tasks a submit sends to the scheduler: every task without a `_done.json` for its
 * config hash whose lock is not held. Failed tasks are pending (they run again); a task another
 * array is running right now is left to that run. A task queued (not yet started) by an earlier
 * submission is still selected: when both arrays reach it, run-one's lock and done check make
 * the second one skip it. `out` is the study folder (see src/study/study-folder.ts).
 *
 * The subject folders are read a batch at a time and each state is dropped once classified:
 * what is kept is the plan indices (numbers), so memory does not grow with the states (200,000
 * tasks; docs/scale.md).
 */
export async function selectPending(plan: PlanTaskSource, out: string): Promise<PendingSelection> {
  const read = await openTaskStateReader(out);
  const sel: PendingSelection = { pending: [], done: [], running: [], runningKeys: [], problems: [] };
  const classify = async (batch: PlanTaskRef[]): Promise<void> => {
    for (const s of await read(batch)) {
      for (const p of s.problems) sel.problems.push(p);
      if (s.done === "current") sel.done.push(s.index);
      else if (s.lock.kind === "held") {
        sel.running.push(s.index);
        if (sel.runningKeys.length < RUNNING_KEYS) sel.runningKeys.push(s.key);
      } else sel.pending.push(s.index);
    }
  };
  let batch: PlanTaskRef[] = [];
  await forEachPlanTask(plan, async (task) => {
    batch.push(task);
    if (batch.length < BATCH) return;
    const full = batch;
    batch = [];
    await classify(full);
  });
  if (batch.length > 0) await classify(batch);
  return sel;
}
