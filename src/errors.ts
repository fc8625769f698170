/**
 * Exit codes of every command. "Ran fine, found problems" has codes of its own, distinct from a
 * crash (1). What each one means is EXIT_CODES below: the README's table and every `--help` say
 * the same (test/unit/cli/exit-code-docs.test.ts holds them to it).
 */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  PREFLIGHT: 3,
  SUBJECT_FAILED: 4,
  TIMEOUT_OR_KILLED: 5,
  SYSTEM: 6,
  LOCK_BUSY: 75,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Every exit code with its meaning, in the order the README's "Exit codes" table lists them. */
export const EXIT_CODES: readonly { readonly code: ExitCode; readonly meaning: string }[] = [
  { code: EXIT.OK, meaning: "success (or already done / nothing to do); `status` and `collect` also when they report failed subjects, unless given `--exit-code`" },
  { code: EXIT.INTERNAL, meaning: "internal error: a bug in cst-batch (rerun with `CST_BATCH_DEBUG=1` for a stack trace)" },
  { code: EXIT.USAGE, meaning: "bad command line or input file (unknown flag, invalid manifest, damaged plan file, a plan that belongs to another study folder, ...)" },
  { code: EXIT.PREFLIGHT, meaning: "preflight found problems; nothing was planned or run" },
  { code: EXIT.SUBJECT_FAILED, meaning: "a subject failed (PIPELINE_FAILED, INPUT_MISSING, VALIDATION); `submit --scheduler local`: some subjects failed; `status --exit-code` / `collect --exit-code`: ran fine and found failed subjects" },
  { code: EXIT.TIMEOUT_OR_KILLED, meaning: "a subject was stopped: TIMEOUT, CANCELLED, KILLED, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED" },
  { code: EXIT.SYSTEM, meaning: "system problem: disk full, lock filesystem without flock, scheduler command failed" },
  { code: EXIT.LOCK_BUSY, meaning: "`run-one`: the subject is locked by another run (nothing touched)" },
  {
    code: EXIT.INTERRUPTED,
    meaning: "interrupted (Ctrl-C, SIGTERM) before an outcome; `submit --scheduler local`: running and not-started subjects recorded as CANCELLED, summary written",
  },
];

/** The meaning of an exit code (EXIT_CODES), for help texts and messages. */
export function exitCodeMeaning(code: ExitCode): string {
  const found = EXIT_CODES.find((e) => e.code === code);
  if (!found) throw new Error(`exit code ${code} has no meaning in EXIT_CODES`);
  return found.meaning;
}

export type ErrorCode =
  | "USAGE"
  | "INVALID_INPUT"
  | "PREFLIGHT"
  | "CORRUPT_STATE"
  | "NEWER_SCHEMA"
  | "SCHEDULER"
  | "SYSTEM"
  | "LOCK_UNSUPPORTED"
  /** A plan that belongs to another study folder than the one given (see src/study/study-folder.ts). */
  | "WRONG_STUDY";

const EXIT_FOR: Record<ErrorCode, ExitCode> = {
  USAGE: EXIT.USAGE,
  INVALID_INPUT: EXIT.USAGE,
  PREFLIGHT: EXIT.PREFLIGHT,
  CORRUPT_STATE: EXIT.USAGE,
  NEWER_SCHEMA: EXIT.USAGE,
  SCHEDULER: EXIT.SYSTEM,
  SYSTEM: EXIT.SYSTEM,
  LOCK_UNSUPPORTED: EXIT.SYSTEM,
  WRONG_STUDY: EXIT.USAGE,
};

/**
 * An error the user can act on: it names the input, what was expected, what was found and what
 * to do next. The CLI prints it without a stack trace.
 */
export class CstError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: string[];
  readonly exitCode: ExitCode;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { hint?: string; details?: string[]; cause?: unknown; exitCode?: ExitCode } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "CstError";
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details ?? [];
    this.exitCode = opts.exitCode ?? EXIT_FOR[code];
  }
}

export function isCstError(e: unknown): e is CstError {
  return e instanceof CstError;
}

/** Node's errno code of an error, if any (ENOENT, ENOSPC, ...). */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}
