import type { DeriveInput, StatusRow } from "./derive.js";

/**
 * The larger of run-one's figure and the scheduler's MaxRSS for the run that wrote `r`: when the
 * scheduler's is larger, the row shows it (source sacct) and, when nothing else is to be written
 * for the task, a "peak" write-back records it.
 */
export function takeSchedulerPeak(row: StatusRow, input: DeriveInput, r: { job_id: string | null; max_rss_kb: number | null } | null, record: "done" | { attemptId: string }): void {
  if (!r?.job_id || !input.peakLookup) return;
  const s = input.peakLookup(r.job_id);
  if (!s || s.maxRssKb === null || (r.max_rss_kb !== null && s.maxRssKb <= r.max_rss_kb)) return;
  row.maxRssKb = s.maxRssKb;
  row.maxRssSource = s.peakSource ?? "sacct";
  row.writeBack ??= { kind: "peak", record, elementId: r.job_id, sched: { ...s, maxRssKb: s.maxRssKb } };
}
