import { CstError, EXIT, type ExitCode } from "../errors.js";

/** The only place that writes to the terminal. Human text goes to stderr, data to stdout. */
export const out = {
  data(text: string): void {
    process.stdout.write(text.endsWith("\n") ? text : text + "\n");
  },
  json(value: unknown): void {
    process.stdout.write(JSON.stringify(value, null, 2) + "\n");
  },
  info(text: string): void {
    if (quiet) return;
    process.stderr.write(text.endsWith("\n") ? text : text + "\n");
  },
  warn(text: string): void {
    process.stderr.write(`${color("33", "warning:")} ${text}\n`);
  },
  error(text: string): void {
    process.stderr.write(`${color("31", "error:")} ${text}\n`);
  },
};

let quiet = false;
export function setQuiet(value: boolean): void {
  quiet = value;
}

export function useColor(stream: NodeJS.WriteStream = process.stderr): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  if (process.env.FORCE_COLOR) return true;
  return Boolean(stream.isTTY);
}

export function color(code: string, text: string): string {
  return useColor() ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/** Print an error the user can act on; an unknown error is a bug and says so. */
export function reportError(e: unknown): ExitCode {
  if (e instanceof CstError) {
    out.error(e.message);
    for (const d of e.details) process.stderr.write(`  ${d}\n`);
    if (e.hint) process.stderr.write(`  what to do: ${e.hint}\n`);
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  out.error(`internal error: ${err.message}`);
  if (process.env.CST_BATCH_DEBUG) process.stderr.write(`${err.stack ?? ""}\n`);
  else process.stderr.write("  this is a bug in cst-batch; rerun with CST_BATCH_DEBUG=1 for a stack trace and report it\n");
  return EXIT.INTERNAL;
}
