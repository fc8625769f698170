import type { Plan } from "../schemas/records.js";
import { readAllTaskStates } from "../state/task-state.js";

/** The tasks local mode runs, and the damaged state files seen while choosing them. */
export interface LocalSelection {
  indices: number[];
  /** Damaged state files: path, reason and what becomes of it (as status and collect report them). */
  problems: string[];
}

/**
 * What local mode runs: every task not done with its config hash (all of them with `force`). A
 * task whose lock is held stays in the list: its run-one then reports it as running elsewhere.
 * `out` is the study folder (see src/study/study-folder.ts).
 */
export async function selectLocalRun(plan: Pick<Plan, "tasks">, out: string, force: boolean): Promise<LocalSelection> {
  const states = await readAllTaskStates(out, plan.tasks);
  const problems = states.flatMap((s) => s.problems);
  const indices = force ? plan.tasks.map((t) => t.index) : states.filter((s) => s.done !== "current").map((s) => s.index).sort((a, b) => a - b);
  return { indices, problems };
}
