/**
 * Exit codes of every command (documented in the README). "Ran fine, found problems" has codes
 * of its own, distinct from a crash (1).
 */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  PREFLIGHT: 3,
  SUBJECT_FAILED: 4,
  TIMEOUT_OR_KILLED: 5,
  SYSTEM: 6,
  INTERRUPTED: 130,
  LOCK_BUSY: 75,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

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
