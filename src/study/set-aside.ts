import type { InvalidSubject } from "../schemas/plan.js";
import { shellQuote } from "../shell/shell-quote.js";

/**
 * The subjects a plan set aside, for status, collect and the report to list (never vanished):
 * `invalid` ones (--skip-invalid: preflight found errors in them; not run) and the ones left out
 * by --include/--exclude (counted as excluded).
 */
export interface SetAside {
  invalid: InvalidSubject[];
  excluded: string[];
}

/** What a plan header records of them (plans from before --skip-invalid record nothing). */
export function setAsideOf(header: { invalid?: InvalidSubject[] | undefined; excluded?: string[] | undefined }): SetAside {
  return { invalid: header.invalid ?? [], excluded: header.excluded ?? [] };
}

/** Invalid subjects listed one a line before the rest are summed up. */
const MAX_LISTED = 10;

/** Human lines: each invalid subject with its first problem, the way to pick them up (unless `fixLine: false`: status says it in its next steps), the excluded count. */
export function formatSetAside(s: SetAside, out: string, opts: { fixLine?: boolean } = {}): string[] {
  const lines: string[] = [];
  if (s.invalid.length > 0) {
    lines.push(`${s.invalid.length} invalid (not run; preflight found errors in them):`);
    for (const i of s.invalid.slice(0, MAX_LISTED)) {
      const first = i.problems[0];
      const more = i.problems.length > 1 ? ` (+${i.problems.length - 1} more)` : "";
      lines.push(`  ${i.key}: ${first ? `${first.message}; fix: ${first.fix}` : "invalid"}${more}`);
    }
    if (s.invalid.length > MAX_LISTED) lines.push(`  ... and ${s.invalid.length - MAX_LISTED} more (--json lists every one)`);
    if (opts.fixLine !== false) lines.push(`  once fixed: \`cst-batch plan --out ${shellQuote(out)}\` picks them up (the study's settings are recorded)`);
  }
  if (s.excluded.length > 0) lines.push(`${s.excluded.length} excluded by --include/--exclude`);
  return lines;
}
