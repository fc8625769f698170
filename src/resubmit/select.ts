import type { FailureCategory, PlanTask } from "../schemas/records.js";
import type { StatusRow, StatusState } from "../status/derive.js";

/** Which tasks `resubmit` reruns, and why the others are left out. */
export interface RerunSelection {
  /** Plan indices to rerun, in plan order. */
  rerun: number[];
  /** Category that decides the escalation of each rerun task (null: none). */
  categoryOf: Map<number, FailureCategory | null>;
  /** The task key of each rerun task. */
  keyOf: Map<number, string>;
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

/** What `selectRow` decides for one row: rerun it (with the category that escalates it), say why it is left out, or nothing. */
export type RowDecision = { kind: "rerun"; category: FailureCategory | null } | { kind: "skip"; key: string; state: StatusState; why: string } | null;

/** Whether `selectRow` needs the task's configuration hash for this row (a failure whose category has a retry limit). */
export function needsConfigHash(row: StatusRow, opts: SelectOptions): boolean {
  return (row.state === "failed" || row.state === "stale") && row.category !== null && opts.retry[row.category] !== undefined;
}

/**
 * The rerun rules for one status row (pure): `configHash` is the plan task's configuration hash
 * (read only when `needsConfigHash` says so: the retry limit counts the attempts of the current
 * configuration). `selectRerun` applies it to every row; `resubmit` to each row as status streams
 * them, keeping only what it decides (200,000 tasks; docs/scale.md).
 */
export function selectRow(row: StatusRow, configHash: string | undefined, opts: SelectOptions): RowDecision {
  const failedOnly = opts.failedOnly || opts.categories !== null;
  if (opts.subjects && !matchesSubject(row, opts.subjects)) return null;
  if (!RERUNNABLE.has(row.state)) {
    if (opts.subjects) {
      const why = row.state === "invalid" ? `it is invalid (${row.reason ?? "preflight found errors in it"}): fix it, then plan the study again` : `it is ${row.state}`;
      return { kind: "skip", key: row.key, state: row.state, why };
    }
    if (failedOnly && (row.state === "running" || row.state === "pending-in-queue") && row.failures.length > 0) {
      // a failed attempt whose element has not ended yet (or a rerun already queued): say so rather than nothing
      const job = row.jobId ? ` (job ${row.jobId})` : "";
      return { kind: "skip", key: row.key, state: row.state, why: `an attempt failed but it is ${row.state === "running" ? "running" : "queued"} now${job}: resubmit once it has ended (cst-batch status shows it)` };
    }
    return null;
  }
  const failed = row.state === "failed" || row.state === "stale";
  if (failedOnly && !failed) return null;
  if (opts.categories && !(row.category !== null && opts.categories.includes(row.category))) return null;
  const cat = failed ? row.category : null;
  if (cat !== null) {
    const max = opts.retry[cat];
    const used = row.failures.filter((f) => f.category === cat && f.configHash === configHash).length;
    if (max !== undefined && used >= max) return { kind: "skip", key: row.key, state: row.state, why: `${used} attempt(s) already ended in ${cat}, the profile's retry limit is ${max}` };
  }
  return { kind: "rerun", category: cat };
}

/** Add one row's decision to a selection (its `rerun` sorted by the caller once every row is in). */
export function addDecision(sel: RerunSelection, row: Pick<StatusRow, "index" | "key">, d: RowDecision): void {
  if (d === null) return;
  if (d.kind === "skip") sel.skipped.push({ key: d.key, state: d.state, why: d.why });
  else {
    sel.rerun.push(row.index);
    sel.categoryOf.set(row.index, d.category);
    sel.keyOf.set(row.index, row.key);
  }
}

/** Pick the rerun set from status rows (pure). */
export function selectRerun(rows: readonly StatusRow[], tasks: ReadonlyMap<number, PlanTask>, opts: SelectOptions): RerunSelection {
  const sel: RerunSelection = { rerun: [], categoryOf: new Map(), keyOf: new Map(), skipped: [] };
  for (const row of rows) addDecision(sel, row, selectRow(row, tasks.get(row.index)?.config_hash, opts));
  sel.rerun.sort((a, b) => a - b);
  return sel;
}
