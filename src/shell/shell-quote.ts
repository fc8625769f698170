import { CstError } from "../errors.js";

/** Characters that never need quoting in a POSIX shell word (the same set as Python's shlex.quote). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quote a value as one POSIX shell word: bare when it is made of safe characters only, else in
 * single quotes with each `'` written as `'\''`. Newlines end up inside the quotes (safe for a
 * shell line; directive lines must reject them first, see `assertDirectiveValue`). NUL is rejected:
 * no shell word can hold it.
 */
export function shellQuote(value: string): string {
  assertNoNul(value, "value");
  if (value !== "" && SAFE_WORD.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Throw a USAGE error when `value` holds a NUL byte (no argv element or file name can). */
export function assertNoNul(value: string, what: string): void {
  if (value.includes("\0")) {
    throw new CstError("USAGE", `${what} contains a NUL byte: ${JSON.stringify(value)}`, {
      hint: "remove the NUL character from the value",
    });
  }
}

/**
 * Check a value that is written on a scheduler directive line (`#SBATCH ...`, `#PBS ...`): such a
 * line ends at the newline, so a newline (or carriage return) would end the directive and turn
 * the rest into script text. Rejected with a USAGE error naming `what` and the value.
 */
export function assertDirectiveValue(value: string, what: string): void {
  assertNoNul(value, what);
  if (/[\r\n]/.test(value)) {
    throw new CstError("USAGE", `${what} cannot be written on a scheduler directive line: it contains a line break`, {
      details: [`found: ${JSON.stringify(value)}`],
      hint: `use a ${what} without newline characters`,
    });
  }
}

/**
 * Check a verbatim line of the script (a setup line, a raw `--scheduler-arg` directive): it must be
 * one line, since each is written as exactly one line of the script.
 */
export function assertSingleLine(value: string, what: string): void {
  assertDirectiveValue(value, what);
}

/**
 * Check a value written bare on a PBS directive line. Real PBS Pro / Torque `qsub` split directive
 * arguments on white space and their quote handling differs between versions, so such values
 * are restricted to characters that need no quoting at all.
 */
export function assertBareDirectiveValue(value: string, what: string): void {
  assertDirectiveValue(value, what);
  if (value === "" || !SAFE_WORD.test(value)) {
    throw new CstError("USAGE", `${what} cannot be written on a #PBS directive line: ${JSON.stringify(value)}`, {
      details: ["expected: letters, digits and _ @ % + = : , . / - only (PBS directives are not shell-quoted)"],
      hint: `choose a ${what} without spaces, quotes or shell characters`,
    });
  }
}

/** A command as a user would type it (for messages and the dry run). */
export function formatArgv(argv: readonly string[]): string {
  // `<` before the last word is a stdin redirect (LSF: `bsub < script`, see stdinRedirect in
  // src/schedulers/runner.ts): printed bare so the line works when pasted into a shell.
  return argv.map((a, i) => (a === "<" && i === argv.length - 2 ? a : shellQuote(a))).join(" ");
}

/**
 * A value for an LSF `#BSUB` line, in double quotes (`#BSUB -J "name[1-4]%2"`, `#BSUB -R
 * "rusage[mem=4096]"`): bsub reads embedded options like a command line, and double quotes are
 * the documented form for values holding brackets or spaces. Characters a double-quoted word
 * would still interpret or end on (`"`, `\`, `$`, a backquote) and line breaks are rejected with a
 * USAGE error naming `what`.
 */
export function lsfDirectiveQuote(value: string, what: string): string {
  assertDirectiveValue(value, what);
  if (value === "" || /["\\$`]/.test(value)) {
    throw new CstError("USAGE", `${what} cannot be written on a #BSUB directive line: ${JSON.stringify(value)}`, {
      details: ['expected: no double quote, backslash, $ or backquote (the value is written in double quotes)'],
      hint: `choose a ${what} without those characters`,
    });
  }
  return `"${value}"`;
}
