import { LOCAL_CANARY_ID, readCanaryStop, type CanaryVerdictFile } from "../run/canary-file.js";
import type { StatusRow } from "./derive.js";
import type { Placement } from "./submissions.js";

/**
 * What status says about the canary (src/failures/canary.ts): a task its submission's canary
 * stopped left no record and its element ended at once; it is shown as not run (never as a
 * failure) with the reason, and the report carries the newest verdict that still explains a
 * not-run task, so the user reads the cause and the fix once, not N times.
 */
export interface CanaryReport {
  submissionId: string;
  writtenAt: string;
  /** The first K subjects to finish, all SYSTEM. */
  first: CanaryVerdictFile["first"];
  message: string;
  nextStep: string;
  /** Tasks of the study this verdict left not run. */
  notRun: number;
}

/**
 * Mark the rows the canary stopped (reading each submission's verdict once, and the last local
 * run's); returns the newest verdict still in force.
 */
export function applyCanaryVerdicts(out: string, rows: StatusRow[], placementOf: (key: string) => Placement | null): CanaryReport | null {
  const verdicts = new Map<string, CanaryVerdictFile | null>();
  const stopped = new Map<string, { verdict: CanaryVerdictFile; createdAt: string; count: number }>();
  for (const row of rows) {
    // Not run, or unknown (the scheduler forgot the element): both left no record since the submission.
    if (row.state !== "not-run" && row.state !== "unknown") continue;
    const placement = placementOf(row.key);
    if (!placement || placement.submission.scheduler === "local") continue;
    const id = placement.submission.submission_id;
    if (!verdicts.has(id)) verdicts.set(id, readCanaryStop(out, id));
    const verdict = verdicts.get(id);
    if (!verdict) continue;
    row.state = "not-run";
    row.category = null;
    row.reason = `not run: the canary of submission ${id} stopped it (the first ${verdict.first.length} subject(s) to finish all failed SYSTEM: ${verdict.first.map((f) => f.key).join(", ")})`;
    const seen = stopped.get(id);
    if (seen) seen.count++;
    else stopped.set(id, { verdict, createdAt: placement.submission.created_at, count: 1 });
  }
  const newest = [...stopped.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  if (!newest) return applyLocalVerdict(out, rows);
  const v = newest.verdict;
  return { submissionId: v.submission_id, writtenAt: v.written_at, first: v.first, message: v.message, nextStep: v.next_step, notRun: newest.count };
}

/** The last local run's verdict: the subjects it did not start that have still not run since. */
function applyLocalVerdict(out: string, rows: StatusRow[]): CanaryReport | null {
  const verdict = readCanaryStop(out, LOCAL_CANARY_ID);
  if (!verdict?.not_run) return null;
  const keys = new Set(verdict.not_run);
  let count = 0;
  for (const row of rows) {
    // Only tasks nothing has touched since (a later submission's element explains its own).
    if (row.state !== "never-submitted" || !keys.has(row.key)) continue;
    row.state = "not-run";
    row.category = null;
    row.reason = `not run: the canary of the local run stopped it (the first ${verdict.first.length} subject(s) to finish all failed SYSTEM: ${verdict.first.map((f) => f.key).join(", ")})`;
    count++;
  }
  if (count === 0) return null;
  return { submissionId: LOCAL_CANARY_ID, writtenAt: verdict.written_at, first: verdict.first, message: verdict.message, nextStep: verdict.next_step, notRun: count };
}
