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
 * Marks the rows the canary stopped, one row at a time as status makes them (reading each
 * submission's verdict once, and the last local run's); `result()` is the newest verdict still
 * in force. The last local run's verdict applies when no submission has one (a submission's
 * canary explains its own not-run tasks).
 */
export class CanaryMarker {
  private readonly verdicts = new Map<string, CanaryVerdictFile | null>();
  private readonly stopped = new Map<string, { verdict: CanaryVerdictFile; createdAt: string; count: number }>();
  private readonly local: { verdict: CanaryVerdictFile; keys: Set<string>; count: number } | null;

  constructor(
    private readonly out: string,
    submissions: readonly { submission_id: string; scheduler: string }[],
    private readonly placementOf: (row: StatusRow) => Placement | null,
  ) {
    const anyVerdict = submissions.some((s) => s.scheduler !== "local" && this.verdictOf(s.submission_id) !== null);
    const verdict = anyVerdict ? null : readCanaryStop(out, LOCAL_CANARY_ID);
    this.local = verdict?.not_run ? { verdict, keys: new Set(verdict.not_run), count: 0 } : null;
  }

  private verdictOf(id: string): CanaryVerdictFile | null {
    if (!this.verdicts.has(id)) this.verdicts.set(id, readCanaryStop(this.out, id));
    return this.verdicts.get(id) ?? null;
  }

  mark(row: StatusRow): void {
    // Not run, or unknown (the scheduler forgot the element): both left no record since the submission.
    if (row.state === "not-run" || row.state === "unknown") {
      const placement = this.placementOf(row);
      if (!placement || placement.submission.scheduler === "local") return;
      const id = placement.submission.submission_id;
      const verdict = this.verdictOf(id);
      if (!verdict) return;
      row.state = "not-run";
      row.category = null;
      row.reason = `not run: the canary of submission ${id} stopped it (the first ${verdict.first.length} subject(s) to finish all failed SYSTEM: ${verdict.first.map((f) => f.key).join(", ")})`;
      const seen = this.stopped.get(id);
      if (seen) seen.count++;
      else this.stopped.set(id, { verdict, createdAt: placement.submission.created_at, count: 1 });
      return;
    }
    // The last local run's verdict: the subjects it did not start that nothing has touched since
    // (a later submission's element explains its own).
    const local = this.local;
    if (!local || row.state !== "never-submitted" || !local.keys.has(row.key)) return;
    row.state = "not-run";
    row.category = null;
    row.reason = `not run: the canary of the local run stopped it (the first ${local.verdict.first.length} subject(s) to finish all failed SYSTEM: ${local.verdict.first.map((f) => f.key).join(", ")})`;
    local.count++;
  }

  result(): CanaryReport | null {
    const newest = [...this.stopped.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
    if (newest) {
      const v = newest.verdict;
      return { submissionId: v.submission_id, writtenAt: v.written_at, first: v.first, message: v.message, nextStep: v.next_step, notRun: newest.count };
    }
    const local = this.local;
    if (!local || local.count === 0) return null;
    const v = local.verdict;
    return { submissionId: LOCAL_CANARY_ID, writtenAt: v.written_at, first: v.first, message: v.message, nextStep: v.next_step, notRun: local.count };
  }
}
