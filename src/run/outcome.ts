import { EXIT, type ExitCode } from "../errors.js";
import { type AttemptRecord, type DoneRecord, type FailureCategory, type LockOwner } from "../schemas/records.js";
import { failureEntry } from "../failures/catalogue.js";

/** What run-one reports for a task: its outcome, the events on the way, and the exit code. */
export interface TaskRef {
  index: number;
  key: string;
  subject: string;
  session: string | null;
  /** Absolute subject folder. */
  dir: string;
  /** Absolute log file. */
  logFile: string;
}

export type RunOneOutcome =
  | { kind: "success"; task: TaskRef; record: DoneRecord }
  | { kind: "skipped"; reason: "done"; task: TaskRef; record: DoneRecord }
  | { kind: "failed"; task: TaskRef; category: FailureCategory; record: AttemptRecord; attemptDir: string | null }
  | { kind: "busy"; task: TaskRef; owner: LockOwner | null };

export type RunOneEvent =
  | { type: "busy"; task: TaskRef; owner: LockOwner | null; message: string }
  | { type: "recovered"; task: TaskRef; what: "promotion" | "attempt" | "corrupt-done"; message: string }
  | { type: "started"; task: TaskRef; argv: string[] }
  | { type: "stopping"; task: TaskRef; reason: "timeout" | "aborted"; category: FailureCategory }
  | { type: "finished"; task: TaskRef; outcome: RunOneOutcome["kind"]; category?: FailureCategory };


/** Exit code of `run-one` for an outcome (see EXIT in src/errors.ts). */
export function exitCodeFor(outcome: RunOneOutcome): ExitCode {
  switch (outcome.kind) {
    case "success":
    case "skipped":
      return EXIT.OK;
    case "busy":
      return EXIT.LOCK_BUSY;
    case "failed":
      return failureEntry(outcome.category).exitCode;
  }
}

/** The worst of several exit codes (for a chunk of tasks): busy < subject failed < killed < system. */
export function worstExitCode(codes: readonly number[]): number {
  const rank = (c: number): number =>
    c === EXIT.OK ? 0 : c === EXIT.LOCK_BUSY ? 1 : c === EXIT.SUBJECT_FAILED ? 2 : c === EXIT.TIMEOUT_OR_KILLED ? 3 : 4;
  return codes.reduce((worst, c) => (rank(c) > rank(worst) ? c : worst), EXIT.OK as number);
}
