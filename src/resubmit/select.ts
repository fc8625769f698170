import type { FailureCategory, PlanTask } from "../schemas/records.js";
import type { StatusRow, StatusState } from "../status/derive.js";

/** Which tasks `resubmit` reruns, and why the others are left out. */
export interface RerunSelection {
  /** Plan indices to rerun, in plan order. */
  rerun: number[];
  /** Category that decides the escalation of each rerun task (null: none). */
  categoryOf: Map<number, FailureCategory | null>;
  skipped: Array<{ key: string; state: StatusState; why: string }>;
}

export interface SelectOptions {
  /** Only failed and stale tasks (default: every task that is not done, running or queued). */
  failedOnly: boolean;
  /** Only failures of these categories (implies failedOnly). */
  categories: FailureCategory[] | null;
  /** `sub-01`, `01`, or `sub-01_ses-02` (a subject selects all of its sessions). */
  subjects: string[] | null;
  /** Profile `retry`: at most N attempts of this configuration may end in a category. */
  retry: Partial<Record<FailureCategory, number>>;
}

/** States a rerun may start: never running, queued or done ones. */
const RERUNNABLE: ReadonlySet<StatusState> = new Set(["failed", "stale", "damaged", "not-run", "unknown", "never-submitted"]);

function matchesSubject(row: StatusRow, wanted: readonly string[]): boolean {
  return wanted.some((w) => {
    const id = w.startsWith("sub-") ? w : `sub-${w}`;
    return id === row.subject || id === row.key;
  });
}

/** Pick the rerun set from status rows (pure). */
export function selectRerun(rows: readonly StatusRow[], tasks: ReadonlyMap<number, PlanTask>, opts: SelectOptions): RerunSelection {
  const sel: RerunSelection = { rerun: [], categoryOf: new Map(), skipped: [] };
  const failedOnly = opts.failedOnly || opts.categories !== null;
  for (const row of rows) {
    if (opts.subjects && !matchesSubject(row, opts.subjects)) continue;
    if (!RERUNNABLE.has(row.state)) {
      if (opts.subjects) {
        const why = row.state === "invalid" ? `it is invalid (${row.reason ?? "preflight found errors in it"}): fix it, then plan the study again` : `it is ${row.state}`;
        sel.skipped.push({ key: row.key, state: row.state, why });
      } else if (failedOnly && (row.state === "running" || row.state === "pending-in-queue") && row.failures.length > 0) {
        // a failed attempt whose element has not ended yet (or a rerun already queued): say so rather than nothing
        const job = row.jobId ? ` (job ${row.jobId})` : "";
        sel.skipped.push({ key: row.key, state: row.state, why: `an attempt failed but it is ${row.state === "running" ? "running" : "queued"} now${job}: resubmit once it has ended (cst-batch status shows it)` });
      }
      continue;
    }
    const failed = row.state === "failed" || row.state === "stale";
    if (failedOnly && !failed) continue;
    if (opts.categories && !(row.category !== null && opts.categories.includes(row.category))) continue;
    const cat = failed ? row.category : null;
    if (cat !== null) {
      const max = opts.retry[cat];
      const hash = tasks.get(row.index)?.config_hash;
      const used = row.failures.filter((f) => f.category === cat && f.configHash === hash).length;
      if (max !== undefined && used >= max) {
        sel.skipped.push({ key: row.key, state: row.state, why: `${used} attempt(s) already ended in ${cat}, the profile's retry limit is ${max}` });
        continue;
      }
    }
    sel.rerun.push(row.index);
    sel.categoryOf.set(row.index, cat);
  }
  sel.rerun.sort((a, b) => a - b);
  return sel;
}
