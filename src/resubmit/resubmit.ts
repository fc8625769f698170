import { existsSync } from "node:fs";
import path from "node:path";
import { CstError } from "../errors.js";
import { planFilePath, plansDir } from "../layout.js";
import { currentPlanFile, loadPlan, loadPlanTask, loadPlanTasks, openPlanTasks, planTaskRef, scanPlanTaskFile } from "../plan/load-plan.js";
import type { PlanTaskRef } from "../schemas/plan.js";
import type { StatusRow } from "../status/derive.js";
import { loadProfile } from "../profile/profile.js";
import { parseDuration } from "../schedulers/duration.js";
import { parseMemory } from "../schedulers/memory.js";
import type { SchedulerName } from "../schedulers/types.js";
import { type FailureCategory, type Plan, type PlanTask } from "../schemas/records.js";
import type { Submission } from "../schemas/study-records.js";
import { parseCategoryList } from "../failures/categories.js";
import { failureEntry } from "../failures/catalogue.js";
import { streamStatus, type StatusReport } from "../status/status.js";
import { readSubmissions } from "../status/submissions.js";
import { breakStaleLock } from "../status/write-back.js";
import { submitToScheduler, type SubmitResult } from "../submit/submit.js";
import type { SubmitSettings } from "../submit/settings.js";
import { baseResourcesOf, scaleMem, scaleTime } from "./resources.js";
import { addDecision, selectRow, type RerunSelection, type SelectOptions } from "./select.js";
import { replanChangedInputs, type ReplanOutcome } from "./replan-changed.js";
import { runLocal, type LocalProgress, type LocalRunResult } from "../local/run-local.js";
import { collect } from "../collect/index.js";
import { recordEvent } from "../events/events.js";
import { shellQuote } from "../shell/shell-quote.js";
import { forEachSelectedTask } from "./selected-tasks.js";
import { collectGarbage } from "../util/collect-garbage.js";
import { localJobsFor, recordedMemPerSubjectMiB } from "./local-jobs.js";

/**
 * `resubmit`: rerun a compact list of tasks as new array(s) with contiguous indices (0..n-1, so
 * PBS Pro can take it), each with its own collect job. Works while other tasks of the study run:
 * the rerun list holds only failed / stale / never-run tasks (status decides, after recording the
 * scheduler's verdicts), and submit re-checks every lock and `_done.json` just before it renders.
 *
 * Escalation: `memFactor` multiplies the memory of the OUT_OF_MEMORY reruns, `timeFactor` the
 * walltime (and an explicit per-subject timeout) of the TIMEOUT reruns; each escalated group is its
 * own array (one array has one resource request), everything else keeps the base resources: a
 * pipeline failure is not retried with more memory unless `--mem` says so.
 */
export interface ResubmitRequest {
  out: string;
  failedOnly?: boolean;
  categories?: FailureCategory[] | null;
  subjects?: string[] | null;
  /** Override the base walltime / memory (flag text: `2h`, `8G`). */
  time?: string | null;
  mem?: string | null;
  timeoutMinutes?: number | null;
  memFactor?: number | null;
  timeFactor?: number | null;
  /** Profile `retry` (keys checked here: category names or aliases); when not given, read from `profile`. */
  retry?: Record<string, number> | null;
  /** Cluster profile for `retry`: a file, `disabled` for none, else the default location when it exists. */
  profile?: { path?: string | null; disabled?: boolean };
  dryRun?: boolean;
  /** run-one may replace files in subject folders that cst-batch did not create. */
  adoptExisting?: boolean;
  commandLine: string[];
  env?: NodeJS.ProcessEnv;
  commandTimeoutMs?: number;
  /** Where to rerun: default the last scheduler submission's scheduler, or `local` when none is recorded. */
  scheduler?: SchedulerName | "local" | null;
  /**
   * Local workers. Default: min(CPU count, available memory ÷ the memory per subject), like a
   * local submit; an OUT_OF_MEMORY group with `memFactor` counts F times the memory per subject
   * (with `jobs` given: jobs ÷ F), so fewer of them run at once (src/resubmit/local-jobs.ts).
   */
  jobs?: number;
  /** Local: memory one csttool needs (MiB); default the study's recorded `--mem-per-subject`, else 2 GiB. */
  memPerSubjectMiB?: number;
  /** Local: aborting stops the run (running and not-started subjects recorded as CANCELLED). */
  signal?: AbortSignal;
  onLocalProgress?: (p: LocalProgress) => void;
  /** Local: called once before the first task starts (tasks to run, of the plan's total; the first group's workers). */
  onLocalStart?: (indices: number[], total: number, jobs: number) => void;
}

export interface ResubmitGroup {
  /** `base`, `OUT_OF_MEMORY x1.5`, `TIMEOUT x2`. */
  label: string;
  indices: number[];
  settings: SubmitSettings;
  explicitTimeoutMinutes: number | null;
  result: SubmitResult | null;
  /** A local rerun's outcome. */
  local: LocalRunResult | null;
  /** The memory factor this group's reruns get (OUT_OF_MEMORY with --mem-factor), else null. */
  memFactor: number | null;
}

export interface ResubmitResult {
  /**
   * The study as status read it: the whole overview (totals, submissions, problems), and only the
   * rows of the tasks skipped and of the selected ones whose lock was stale (the others are not
   * kept: 200,000 tasks; docs/scale.md). Each rerun task's key is in `selection.keyOf`.
   */
  status: StatusReport;
  selection: RerunSelection;
  scheduler: SchedulerName | "local";
  /** The scheduler submission resources come from (null for a local rerun without one). */
  base: Submission | null;
  groups: ResubmitGroup[];
  notes: string[];
  /** Selected tasks whose inputs changed, planned again before the rerun; and those left out. */
  replan: Omit<ReplanOutcome, "replaced">;
}

function validFactor(v: number | null | undefined, flag: string): number | null {
  if (v === null || v === undefined) return null;
  if (!Number.isFinite(v) || v < 1 || v > 100) throw new CstError("USAGE", `${flag} must be a number from 1 to 100, found ${v}`, { hint: `e.g. ${flag} 1.5` });
  return v;
}

/** Profile `retry` with its keys checked (aliases accepted). */
export function parseRetryPolicy(retry: Record<string, number> | null | undefined): Partial<Record<FailureCategory, number>> {
  const out: Partial<Record<FailureCategory, number>> = {};
  for (const [k, n] of Object.entries(retry ?? {})) {
    const [cat] = parseCategoryList(k, "profile retry");
    out[cat as FailureCategory] = n;
  }
  return out;
}

export async function resubmit(req: ResubmitRequest): Promise<ResubmitResult> {
  const memFactor = validFactor(req.memFactor, "--mem-factor");
  const timeFactor = validFactor(req.timeFactor, "--time-factor");
  const retry = parseRetryPolicy(req.retry !== undefined ? req.retry : (await loadProfile({ explicit: req.profile?.path ?? null, disabled: req.profile?.disabled === true })).profile.retry);
  const out = path.resolve(req.out);

  const submissions = (await readSubmissions(out)).filter((s) => s.scheduler !== "local");
  const base = submissions.at(-1) ?? null;
  const mode: SchedulerName | "local" = req.scheduler ?? (base ? (base.scheduler as SchedulerName) : "local");
  if (mode !== "local" && !base) {
    throw new CstError("USAGE", `no ${mode} submission recorded in ${out}; resubmit takes the scheduler's resources from the last one`, {
      hint: `rerun here with \`cst-batch resubmit --out ${shellQuote(out)} --scheduler local\`, or submit the study with \`cst-batch submit --scheduler ${mode} --out ${shellQuote(out)} ...\``,
    });
  }
  // Status is read as a stream: each row is decided as it comes (selectRow), and only the rows
  // selected or skipped are kept (200,000 tasks; docs/scale.md).
  const planFile = currentPlanFile(out);
  const selectOpts: SelectOptions = { failedOnly: req.failedOnly ?? false, categories: req.categories ?? null, subjects: req.subjects ?? null, retry };
  const hashes = Object.keys(retry).length > 0 && existsSync(planFile) ? await configHashesOf(planFile) : null;
  const selection: RerunSelection = { rerun: [], categoryOf: new Map(), keyOf: new Map(), skipped: [] };
  const rows: StatusRow[] = [];
  const found = new Set<string>();
  const overview = await streamStatus(out, { planFile, writeBack: !req.dryRun, ...(req.env ? { env: req.env } : {}) }, (row) => {
    if (req.subjects) for (const s of req.subjects) if (!found.has(s) && matchesSubject(row, [s])) found.add(s);
    const decision = selectRow(row, hashes?.hashes[row.index], selectOpts);
    addDecision(selection, row, decision);
    // The rows of skipped tasks, and of selected ones whose lock must be freed; a selected task is its key (selection.keyOf).
    if (decision !== null && (decision.kind === "skip" || row.staleLock)) rows.push(row);
  });
  const status: StatusReport = { ...overview, rows };
  if (hashes && hashes.planId !== status.plan.planId) {
    throw new CstError("USAGE", `the plan of ${out} was replaced while resubmit read it`, { hint: `run \`cst-batch resubmit --out ${shellQuote(out)} ...\` again` });
  }
  selection.rerun.sort((a, b) => a - b);
  // Status's garbage goes now, before the selected tasks are read and submitted on top of it (see collect-garbage.ts).
  collectGarbage(status.plan.taskCount);
  if (req.subjects) {
    const unknown = req.subjects.filter((s) => !found.has(s));
    if (unknown.length > 0) throw new CstError("USAGE", `--subjects: not in the plan: ${unknown.join(", ")}`);
  }
  // Schema 2 `plans/<id>.jsonl`, or the `.json` of a study planned before it.
  let planPath = [planFilePath(out, status.plan.planId), path.join(plansDir(out), `${status.plan.planId}.json`)].find((f) => existsSync(f)) ?? planFilePath(out, status.plan.planId);
  if (!existsSync(planPath)) throw new CstError("USAGE", `the immutable plan ${planPath} is missing`, { hint: "re-run `cst-batch plan` with this --out" });
  const header = await planHeaderOf(planPath);

  // Inputs fixed since the plan: plan those tasks again (a new current plan), leave out what cannot run.
  const src = header.source;
  const planAgain = (key: string): string =>
    `\`cst-batch plan --out ${shellQuote(out)}\` (it uses the study's recorded settings; add \`${src.type === "bids" ? "--bids-dir" : "--manifest"} <new path>\` only if the dataset itself moved), then \`cst-batch resubmit --out ${shellQuote(out)} --subjects ${shellQuote(key)}\` (planned again, it is not run yet: --failed and --category no longer select it)`;
  const replanned = await replanChangedInputs(out, header, planPath, selection.rerun, planAgain, req.dryRun === true);
  planPath = replanned.planPath;
  const replaced = replanned.replaced;
  const blocked = new Set(replanned.blocked.map((b) => b.index));
  selection.rerun = selection.rerun.filter((i) => !blocked.has(i));
  const replan = { planPath: replanned.planPath, replanned: replanned.replanned, blocked: replanned.blocked, notes: replanned.notes };
  const taskAt = async (i: number): Promise<PlanTask> => replaced.get(i) ?? (await loadPlanTask(planPath, i)).task;

  const { settings: baseSettings, explicitTimeoutMinutes: baseTimeout } = base ? baseResourcesOf(base) : localResources(header, req.timeoutMinutes ?? null);
  const baseline: SubmitSettings = structuredClone(baseSettings);
  if (req.time && base) baseline.array.timeSeconds = parseDuration(req.time, "--time");
  if (req.mem) baseline.array.memMiB = parseMemory(req.mem, "--mem");
  const timeout = req.timeoutMinutes ?? baseTimeout;

  const groups: ResubmitGroup[] = [];
  const byLabel = new Map<string, ResubmitGroup>();
  for (const idx of selection.rerun) {
    const cat = selection.categoryOf.get(idx) ?? null;
    // The catalogue says which factor (if any) escalates a category's reruns.
    const flag = cat !== null ? (failureEntry(cat).escalation?.flag ?? null) : null;
    const factor = flag === "--mem-factor" ? memFactor : flag === "--time-factor" ? timeFactor : null;
    const label = factor === null ? "base" : `${cat}: ${flag === "--mem-factor" ? "memory" : "time"} x${factor}`;
    let g = byLabel.get(label);
    if (!g) {
      const settings = structuredClone(baseline);
      let explicit = timeout;
      if (factor !== null && flag === "--mem-factor") settings.array.memMiB = scaleMem(baseline.array.memMiB, factor);
      if (factor !== null && flag === "--time-factor") {
        if (baseline.array.timeSeconds !== null) settings.array.timeSeconds = scaleTime(baseline.array.timeSeconds, factor);
        if (explicit !== null) explicit = Math.round(explicit * factor * 100) / 100;
      }
      g = { label, indices: [], settings, explicitTimeoutMinutes: explicit, result: null, local: null, memFactor: flag === "--mem-factor" ? factor : null };
      byLabel.set(label, g);
      groups.push(g);
    }
    g.indices.push(idx);
  }

  const notes: string[] = [...replanned.notes];
  // A lock held only by orphans of a dead run-one (this host) would make submit see the subject
  // as running: reap them now so the rerun can start it.
  if (!req.dryRun) {
    const rerun = new Set(selection.rerun);
    for (const row of status.rows) {
      if (!row.staleLock || !rerun.has(row.index)) continue;
      const freed = await breakStaleLock(out, await taskAt(row.index));
      notes.push(freed === "freed" ? `${row.key}: stopped the orphaned processes of a dead run that held its lock` : `${row.key}: its lock is still held (${freed}); it is not rerun`);
    }
  }
  if (groups.length > 1) notes.push(`${groups.length} arrays (one per resource request), each with its own collect job; the last collect to finish writes the final summary`);
  if (mode === "local") {
    const memPerSubjectMiB = req.memPerSubjectMiB ?? recordedMemPerSubjectMiB(out);
    const jobsOf = new Map(groups.map((g) => [g, localJobsFor(g.memFactor, req.jobs ?? null, memPerSubjectMiB)]));
    for (const g of groups) notes.push(`${g.label === "base" ? "" : `${g.label}: `}${jobsOf.get(g)!.note}`);
    if (!req.dryRun && groups.length > 0) {
      // A local rerun runs here, on this machine: its plan is read whole (not a login node's 200,000 tasks).
      const plan = await loadPlan(planPath);
      req.onLocalStart?.(selection.rerun, plan.tasks.length, jobsOf.get(groups[0]!)!.jobs);
      recordEvent(out, { event: "submitted", scheduler: "local", plan_id: plan.plan_id, tasks: selection.rerun.length, job_ids: [], jobs: req.jobs ?? 0 });
      for (const g of groups) {
        if (req.signal?.aborted) break;
        g.local = await runLocal({
          planFile: planPath,
          plan,
          indices: g.indices,
          jobs: jobsOf.get(g)!.jobs,
          adoptExisting: req.adoptExisting === true,
          ...(g.explicitTimeoutMinutes !== null ? { timeoutMinutes: g.explicitTimeoutMinutes } : {}),
          ...(req.signal ? { signal: req.signal } : {}),
          ...(req.onLocalProgress ? { onProgress: req.onLocalProgress } : {}),
        });
      }
      await collect(out);
    }
    return { status, selection, scheduler: "local", base, groups, notes, replan };
  }
  // Each group's tasks as a stream of the plan's references (src/resubmit/selected-tasks.ts: a
  // few read at their offsets, many by reading the plan in order and skipping the others): a
  // rerun of 200,000 tasks holds their indices, not their tasks.
  const runHeader = replaced.size > 0 && !req.dryRun ? await planHeaderOf(planPath) : header;
  for (const g of groups) {
    const forEach = (fn: (task: PlanTaskRef) => void | Promise<void>): Promise<void> =>
      forEachSelectedTask(planPath, header.task_count, g.indices, (t) => fn(planTaskRef(replaced.get(t.index) ?? t)));
    g.result = await submitToScheduler({
      plan: { ...runHeader, forEach },
      planPath,
      scheduler: mode,
      settings: g.settings,
      explicitTimeoutMinutes: g.explicitTimeoutMinutes,
      commandLine: req.commandLine,
      dryRun: req.dryRun ?? false,
      adoptExisting: req.adoptExisting === true,
      ...(req.env ? { env: req.env } : {}),
      ...(req.commandTimeoutMs ? { commandTimeoutMs: req.commandTimeoutMs } : {}),
    });
  }
  return { status, selection, scheduler: mode, base, groups, notes, replan };
}

/** A local rerun's "resources": the plan's per-subject timeout (or --timeout-minutes); no walltime or memory request. */
function localResources(plan: Pick<Plan, "run">, timeoutMinutes: number | null): { settings: SubmitSettings; explicitTimeoutMinutes: number | null } {
  const settings = { array: { timeSeconds: null, memMiB: 0 } } as unknown as SubmitSettings;
  return { settings, explicitTimeoutMinutes: timeoutMinutes ?? plan.run.timeout_minutes };
}


function matchesSubject(row: StatusRow, wanted: readonly string[]): boolean {
  return wanted.some((w) => {
    const id = w.startsWith("sub-") ? w : `sub-${w}`;
    return id === row.subject || id === row.key;
  });
}

/** Every task's configuration hash, by index (the retry limits count the attempts of the current configuration). */
async function configHashesOf(planFile: string): Promise<{ planId: string; hashes: string[] }> {
  const hashes: string[] = [];
  const scan = scanPlanTaskFile(planFile, (t) => {
    hashes[t.index] = t.config_hash;
  });
  if (scan !== null) {
    scan.close();
    return { planId: scan.header.plan_id, hashes };
  }
  const v1 = await loadPlanTasks(planFile, (t) => t.config_hash); // schema 1: one JSON object
  return { planId: v1.header.plan_id, hashes: v1.tasks };
}

/** A plan's fields but its tasks (a schema-2 plan: its first line). */
async function planHeaderOf(planFile: string): Promise<Omit<Plan, "tasks">> {
  const plan = await openPlanTasks(planFile);
  plan.close();
  return plan.header as Omit<Plan, "tasks">;
}
