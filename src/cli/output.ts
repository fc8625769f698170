import type { Command } from "commander";
import { CstError, EXIT, type ExitCode } from "../errors.js";

/** The only place that writes to the terminal. Human text goes to stderr, data to stdout. */
export const out = {
  data(text: string): void {
    process.stdout.write(text.endsWith("\n") ? text : text + "\n");
  },
  json(value: unknown): void {
    process.stdout.write(JSON.stringify(value, null, 2) + "\n");
  },
  /** Shown with --verbose only. */
  debug(text: string): void {
    if (verbosity !== "verbose") return;
    process.stderr.write(color("2", text.endsWith("\n") ? text.slice(0, -1) : text) + "\n");
  },
  /** Hidden by --quiet; warnings and errors are always shown. */
  info(text: string): void {
    if (verbosity === "quiet") return;
    process.stderr.write(text.endsWith("\n") ? text : text + "\n");
  },
  warn(text: string): void {
    process.stderr.write(`${color("33", "warning:")} ${text}\n`);
  },
  error(text: string): void {
    process.stderr.write(`${color("31", "error:")} ${text}\n`);
  },
};

/** How much human output goes to stderr: --quiet (warnings and errors), default, --verbose (+ details). */
export type Verbosity = "quiet" | "normal" | "verbose";
let verbosity: Verbosity = "normal";
export function setVerbosity(value: Verbosity): void {
  verbosity = value;
}
export function getVerbosity(): Verbosity {
  return verbosity;
}
export function setQuiet(value: boolean): void {
  verbosity = value ? "quiet" : "normal";
}

/** The global `--verbose` / `--quiet` options; they set the level before any command runs. */
export function addVerbosityOptions(program: Command): void {
  program
    .option("-v, --verbose", "more detail on stderr (each subject's events, every problem)")
    .option("-q, --quiet", "only warnings and errors on stderr (no progress, no summaries)")
    .hook("preAction", (cmd) => {
      const o = cmd.opts<{ verbose?: boolean; quiet?: boolean }>();
      if (o.verbose && o.quiet) throw new CstError("USAGE", "--verbose and --quiet cannot be combined");
      setVerbosity(o.quiet ? "quiet" : o.verbose ? "verbose" : "normal");
    });
}

export function useColor(stream: NodeJS.WriteStream = process.stderr): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  if (process.env.FORCE_COLOR) return true;
  return Boolean(stream.isTTY);
}

export function color(code: string, text: string): string {
  return useColor() ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/**
 * `cst-batch status | head`, `cmd 2>&1 | true`, a `tee` killed by Ctrl-C: a closed pipe is the
 * reader's choice, not an outcome. The stream is marked closed and later writes are dropped; the
 * command carries on and exits with the code its outcome calls for (a failed subject is still 4,
 * an interrupted local submit still records CANCELLED, writes the summary and exits 130). Any
 * other write error (EIO from a vanished terminal, ENOSPC on a redirected file) is treated the
 * same way, with one line on the other stream when it is still open: output that cannot be
 * written never decides the exit code, nor crashes the run. Pass only the streams the command
 * writes to: the first use of process.stdout builds its stream (~1 ms on a pipe), which run-one
 * without --json never needs.
 */
export function dropOutputOnClosedStream(streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    if (guarded.has(stream)) continue;
    guarded.add(stream);
    stream.on("error", (e: NodeJS.ErrnoException) => {
      const first = !closed.has(stream);
      closed.add(stream);
      if (!first || e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") return;
      const other = stream === process.stderr ? process.stdout : process.stderr;
      if (guarded.has(other) && !closed.has(other)) other.write(`warning: cannot write to ${stream === process.stderr ? "stderr" : "stdout"}: ${e.code ?? e.message}; its output is dropped\n`);
    });
  }
}
/**
 * A large document written piece by piece to stdout: waits while stdout's buffer is full (a pipe
 * to a slow reader, `| less`, `| jq`), so output is never queued in memory; a closed stream
 * (see above) does not wait. Node writes to a pipe asynchronously: without this, a 200,000-row
 * `status --json` read slowly held every row in memory (926 MB).
 */
export function writeData(piece: string | Uint8Array): Promise<void> | undefined {
  const stdout = process.stdout;
  if (closed.has(stdout) || stdout.write(piece) || stdout.destroyed) return undefined;
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stdout.off("drain", done);
      stdout.off("close", done);
      stdout.off("error", done);
      resolve();
    };
    stdout.on("drain", done);
    stdout.on("close", done);
    stdout.on("error", done);
  });
}

/** Streams with the handler above, and those of them that failed (their output is dropped). */
const guarded = new WeakSet<NodeJS.WriteStream>();
const closed = new WeakSet<NodeJS.WriteStream>();

/**
 * `--json` on the command line (before a `--`): an outcome that ends in an error still prints one
 * JSON document on stdout, `{ "kind": "error", "error": { code, message, exit_code, ... } }`.
 */
export function jsonRequested(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).includes("--json");
}

/** The JSON error document (see jsonRequested). */
export function errorJson(code: string, message: string, exitCode: number, more: { details?: string[]; hint?: string | null } = {}): unknown {
  return { kind: "error", error: { code, message, exit_code: exitCode, details: more.details ?? [], hint: more.hint ?? null } };
}

/** Print an error the user can act on; an unknown error is a bug and says so. With `json`, also the error document on stdout. */
export function reportError(e: unknown, json = false): ExitCode {
  if (e instanceof CstError) {
    out.error(e.message);
    for (const d of e.details) process.stderr.write(`  ${d}\n`);
    if (e.hint) process.stderr.write(`  what to do: ${e.hint}\n`);
    if (json) out.json(errorJson(e.code, e.message, e.exitCode, { details: e.details, hint: e.hint ?? null }));
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  if (json) out.json(errorJson("INTERNAL", err.message, EXIT.INTERNAL, { hint: "this is a bug in cst-batch; rerun with CST_BATCH_DEBUG=1 for a stack trace and report it" }));
  out.error(`internal error: ${err.message}`);
  if (process.env.CST_BATCH_DEBUG) process.stderr.write(`${err.stack ?? ""}\n`);
  else process.stderr.write("  this is a bug in cst-batch; rerun with CST_BATCH_DEBUG=1 for a stack trace and report it\n");
  return EXIT.INTERNAL;
}
