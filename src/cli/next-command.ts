import { formatArgv, shellQuote } from "../shell/shell-quote.js";
import { out } from "./output.js";

/**
 * "What now?" after plan and submit: the next command, one that works for this study (the
 * study's settings are recorded, so `--out` is all a later command needs).
 */

/** This command line as typed, without `--dry-run`: what makes a look real. */
export function withoutDryRun(argv: readonly string[] = process.argv.slice(2)): string {
  return formatArgv(["cst-batch", ...argv.filter((a) => a !== "--dry-run")]);
}

/** The next command after `plan` (written) or `plan --dry-run`. */
export function nextAfterPlan(study: string, written: boolean): string[] {
  if (!written) return [withoutDryRun()];
  const q = shellQuote(study);
  return [`cst-batch submit --out ${q} --dry-run`, `cst-batch submit --out ${q}`];
}

/** The next command after `submit`: by outcome. */
export function nextAfterSubmit(kind: "dry-run" | "submitted" | "nothing-to-do" | "ran", study: string): string[] {
  const q = shellQuote(study);
  switch (kind) {
    case "dry-run":
      return [withoutDryRun()];
    case "submitted":
      return [`cst-batch status --out ${q}`];
    case "nothing-to-do":
      return [`cst-batch status --out ${q}`, `cst-batch collect --out ${q}`];
    case "ran":
      return [`cst-batch status --out ${q}`];
  }
}

/** The human line(s) on stderr: `next: <command>` (then `  or: <command>`). */
export function printNext(commands: readonly string[]): void {
  commands.forEach((c, i) => out.info(`${i === 0 ? "next:" : "  or:"} ${c}`));
}
