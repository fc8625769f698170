import { loadPlanTasks } from "../plan/load-plan.js";
import { LOCAL_CANARY_ID, readCanaryStop } from "../run/canary-file.js";
import type { Summary } from "../schemas/study-records.js";
import { readSubmissions } from "../status/submissions.js";

/**
 * The canary in collect's summary: when the newest run (a submission, or a local run after it)
 * was stopped by its canary (src/failures/canary.ts), the pending tasks it did not start are
 * listed with the verdict, so the summary says "not started because the environment is
 * broken", not only "pending". Reads the submission records and the verdict files; writes nothing.
 */
export async function canaryNote(out: string, planId: string, pending: ReadonlyMap<number, string>): Promise<NonNullable<Summary["canary"]> | null> {
  // `pending`: the pending tasks' keys by plan index.
  if (pending.size === 0) return null;
  const keyOf = (key: string): string => key;
  const submissions = (await readSubmissions(out)).filter((s) => s.scheduler !== "local");
  const newest = submissions[submissions.length - 1];
  const local = readCanaryStop(out, LOCAL_CANARY_ID);
  if (local?.not_run && (!newest || Date.parse(local.written_at) > Date.parse(newest.created_at))) {
    const keys = new Set(local.not_run);
    const notRun = [...pending.values()].map(keyOf).filter((k) => keys.has(k));
    return notRun.length > 0 ? { submission_id: LOCAL_CANARY_ID, message: local.message, next_step: local.next_step, not_run: notRun } : null;
  }
  if (!newest) return null;
  const verdict = readCanaryStop(out, newest.submission_id);
  if (!verdict) return null;
  // The submission's plan indices, as keys (a resubmission may run an earlier plan's numbering).
  const placed = new Set<string>();
  const indices = newest.chunks.flat();
  if (newest.plan_id === planId) {
    for (const i of indices) {
      const t = pending.get(i);
      if (t) placed.add(keyOf(t));
    }
  } else {
    const other = await loadPlanTasks(newest.plan_path, (t) => ({ index: t.index, key: t.key })).catch(() => null);
    const wanted = new Set(indices);
    for (const t of other?.tasks ?? []) if (wanted.has(t.index)) placed.add(t.key);
  }
  const notRun = [...pending.values()].map(keyOf).filter((k) => placed.has(k));
  return notRun.length > 0 ? { submission_id: newest.submission_id, message: verdict.message, next_step: verdict.next_step, not_run: notRun } : null;
}
