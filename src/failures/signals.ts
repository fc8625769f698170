import { FAILURE_ENTRIES, type FailureCategory } from "./catalogue.js";

/** Signals to run-one that stop a run, and the category each one records (from the catalogue). */
export const STOP_SIGNALS: readonly (readonly [NodeJS.Signals, FailureCategory])[] = FAILURE_ENTRIES.flatMap((e) => e.stopSignals.map((s) => [s, e.category] as const));

/** Signals that cancel a run (local mode's Ctrl-C, SIGTERM, SIGHUP). */
export const CANCEL_SIGNALS: readonly NodeJS.Signals[] = STOP_SIGNALS.filter(([, c]) => c === "CANCELLED").map(([s]) => s);
