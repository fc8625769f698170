import type { PlanTaskRef } from "../schemas/plan.js";
import { readAllTaskStates } from "../state/task-state.js";

export interface PendingSelection {
  /** Plan indices to submit, in plan order. */
  pending: number[];
  /** Done with the plan's config hash: not submitted. */
  done: number[];
  /** Lock held by a live run right now: not submitted (that run records the outcome). */
  running: number[];
  /** Damaged state files seen while reading: path, reason and what becomes of it (as status and collect report them). */
  problems: string[];
}

/**
 * Which plan tasks a submit sends to the scheduler: every task without a `_done.json` for its
 * config hash whose lock is not held. Failed tasks are pending (they run again); a task another
 * array is running right now is left to that run. A task queued (not yet started) by an earlier
 * submission is still selected: when both arrays reach it, run-one's lock and done check make
 * the second one skip it. `out` is the study folder (see src/study/study-folder.ts).
 */
export async function selectPending(plan: { tasks: readonly PlanTaskRef[] }, out: string): Promise<PendingSelection> {
  const states = await readAllTaskStates(out, plan.tasks);
  const sel: PendingSelection = { pending: [], done: [], running: [], problems: [] };
  for (const s of states) {
    sel.problems.push(...s.problems);
    if (s.done === "current") sel.done.push(s.index);
    else if (s.lock.kind === "held") sel.running.push(s.index);
    else sel.pending.push(s.index);
  }
  return sel;
}

