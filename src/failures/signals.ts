import { FAILURE_ENTRIES, type FailureCategory } from "./catalogue.js";

/** Signals to run-one that stop a run, and the category each one records outside a scheduler that says otherwise (from the catalogue). */
export const STOP_SIGNALS: readonly (readonly [NodeJS.Signals, FailureCategory])[] = FAILURE_ENTRIES.flatMap((e) => e.stopSignals.map((s) => [s, e.category] as const));

/** Signals that cancel a run (local mode's Ctrl-C, SIGTERM, SIGHUP). */
export const CANCEL_SIGNALS: readonly NodeJS.Signals[] = STOP_SIGNALS.filter(([, c]) => c === "CANCELLED").map(([s]) => s);

/** Signals whose meaning depends on the scheduler the run is in (SIGUSR2: LSF's run limit, Grid Engine's -notify before a qdel). */
const LSF_STOP_SIGNALS: ReadonlyMap<NodeJS.Signals, FailureCategory> = new Map(
  FAILURE_ENTRIES.flatMap((e) => (e.stopSignalsIn?.lsf ?? []).map((s) => [s, e.category] as const)),
);

/** The category a stop signal records in this process's environment (an LSF job is known by LSB_JOBID). */
export function stopSignalCategory(signal: NodeJS.Signals, fallback: FailureCategory, env: NodeJS.ProcessEnv): FailureCategory {
  return (env.LSB_JOBID ? LSF_STOP_SIGNALS.get(signal) : undefined) ?? fallback;
}

