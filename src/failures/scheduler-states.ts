import type { SchedulerJobState } from "../schedulers/types.js";
import { FAILURE_ENTRIES, type FailureCategory } from "./catalogue.js";

/**
 * The scheduler's side of the catalogue: which of its end states and exit statuses mean which
 * category. A plain "failed" (the job script exited non-zero) is not here: what it means depends
 * on the evidence (see schedulerCategory in src/status/derive.ts).
 */

const CATEGORY_OF_STATE: ReadonlyMap<SchedulerJobState, FailureCategory> = new Map(FAILURE_ENTRIES.flatMap((e) => e.scheduler.states.map((s) => [s, e.category] as const)));

/** The category a scheduler-side end means (null: not a failure, or one that needs more evidence). */
export function failureCategoryForState(state: SchedulerJobState): FailureCategory | null {
  return CATEGORY_OF_STATE.get(state) ?? null;
}

/** Slurm's words for the ends the catalogue names (`TIMEOUT`, `TO`, `OUT_OF_MEMORY`, ...) -> our state. */
export const SLURM_FAILURE_STATES: ReadonlyMap<string, SchedulerJobState> = new Map(
  FAILURE_ENTRIES.flatMap((e) => e.scheduler.slurm.map((word) => [word, onlyState(e.category, e.scheduler.states)] as const)),
);

/** Exit statuses of jobs PBS Pro / Torque killed at a limit: walltime (TIMEOUT) and memory (OUT_OF_MEMORY). */
export function pbsLimitCodes(dialect: "pbsPro" | "torque"): { walltime: number[]; memory: number[] } {
  const codes = (state: SchedulerJobState): number[] => FAILURE_ENTRIES.filter((e) => e.scheduler.states.includes(state)).flatMap((e) => e.scheduler[dialect]);
  return { walltime: codes("timeout"), memory: codes("out_of_memory") };
}

function onlyState(category: FailureCategory, states: readonly SchedulerJobState[]): SchedulerJobState {
  if (states.length !== 1) throw new Error(`failure catalogue: ${category} lists Slurm words but ${states.length} scheduler states`);
  return states[0]!;
}

/** Grid Engine qacct `failed` codes of jobs killed at a limit: walltime (TIMEOUT) and memory (OUT_OF_MEMORY). */
export function sgeFailedCodes(): { walltime: number[]; memory: number[] } {
  const codes = (state: SchedulerJobState): number[] => FAILURE_ENTRIES.filter((e) => e.scheduler.states.includes(state)).flatMap((e) => e.scheduler.sge ?? []);
  return { walltime: codes("timeout"), memory: codes("out_of_memory") };
}
/** LSF's termination reasons for the ends the catalogue names (`TERM_RUNLIMIT`, `TERM_MEMLIMIT`, ...) -> our state. */
export const LSF_TERM_REASONS: ReadonlyMap<string, SchedulerJobState> = new Map(
  FAILURE_ENTRIES.flatMap((e) => (e.scheduler.lsf ?? []).map((word) => [word, onlyState(e.category, e.scheduler.states)] as const)),
);
