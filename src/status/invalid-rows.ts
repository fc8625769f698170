import type { InvalidSubject } from "../schemas/plan.js";
import type { StatusRow } from "./derive.js";

/**
 * The subjects a plan set aside as `invalid` (--skip-invalid: preflight found errors in them) as
 * status rows in state `invalid`, with their problems: they are in no plan task (index -1), never
 * run, and listed among the others by key so they never vanish from a study's view.
 */
export function invalidRow(s: InvalidSubject): StatusRow {
  const first = s.problems[0];
  const more = s.problems.length > 1 ? ` (+${s.problems.length - 1} more)` : "";
  return {
    index: -1,
    key: s.key,
    subject: s.subject,
    session: s.session,
    state: "invalid",
    category: null,
    reason: first ? `${first.message}; fix: ${first.fix}${more}` : "preflight found errors in it",
    attempts: 0,
    durationSeconds: null,
    maxRssKb: null,
    maxRssSource: null,
    jobId: null,
    logPath: "",
    errorLogPath: null,
    schedulerLogPath: null,
    lockOwner: null,
    damagedFile: null,
    scheduler: null,
    writeBack: null,
    failures: [],
    staleLock: false,
    problems: s.problems,
  };
}

/** `rows` (plan order) with a row per invalid subject, each placed before the first row whose key sorts after it. */
export function withInvalidRows(rows: readonly StatusRow[], invalid: readonly InvalidSubject[]): StatusRow[] {
  if (invalid.length === 0) return [...rows];
  const extra = [...invalid].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(invalidRow);
  const merged: StatusRow[] = [];
  let j = 0;
  for (const row of rows) {
    while (j < extra.length && extra[j]!.key < row.key) merged.push(extra[j++]!);
    merged.push(row);
  }
  while (j < extra.length) merged.push(extra[j++]!);
  return merged;
}
