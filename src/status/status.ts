import path from "node:path";
import { resolveStudyDir } from "../study/study-folder.js";
import { setAsideOf, type SetAside } from "../study/set-aside.js";
import { currentPlanFile, loadPlanTask, loadPlanTasks, openPlanRefs, type PlanRefs } from "../plan/load-plan.js";
import type { PlanTaskRef } from "../schemas/plan.js";
import { FAILURE_CATEGORIES, SCHEDULER_RSS_SOURCES } from "../schemas/records.js";
import type { Submission } from "../schemas/study-records.js";
import { DoneCacheStream } from "../state/done-cache.js";
import { openTaskStateReader, type IoMode, type TaskState } from "../state/task-state.js";
import { TaskStateStore } from "../state/task-state-store.js";
import { deriveTaskStatus, elementIdOf, hasRecordSince, parseElementId, STATUS_STATES, type StatusRow, type StatusState } from "./derive.js";
import { elementKey, elementState, jobSequence, querySchedulerView, type CommandRunner, type SchedulerView } from "./scheduler-view.js";
import { PlacementIndex, readSubmissions, type Placement } from "./submissions.js";
import { isLocalStudy, studyOfPlan } from "../failures/study.js";
import type { StudyRef } from "../failures/catalogue.js";
import { schedulerOutputFile } from "../schedulers/output-file.js";
import { applyWriteBack, type WriteBackOutcome } from "./write-back.js";
import { invalidRow } from "./invalid-rows.js";
import { CORRECTABLE_CATEGORIES } from "../failures/scheduler-verdict.js";
import { CanaryMarker, type CanaryReport } from "./canary-view.js";
import { StatusDigestBuilder, type StatusDigest } from "./summary.js";

export interface StatusOptions {
  /** Default: the current plan (`<out>/.cst-batch/plan.jsonl`, or a schema-1 study's `plan.json`). */
  planFile?: string;
  io?: IoMode;
  /** Ask the scheduler (default true); false = the output folder's records only. */
  queryScheduler?: boolean;
  /** Record the scheduler's verdicts into subject folders (default true). */
  writeBack?: boolean;
  /**
   * Also ask about the submissions that ran finished tasks (done, or failed with a record), so
   * that a larger scheduler MaxRSS replaces run-one's peak (collect sets it; status asks only
   * about submissions holding unfinished tasks, and shows what collect recorded).
   */
  schedulerPeaks?: boolean;
  /** Environment of the scheduler commands (tests put wrappers on PATH). */
  env?: NodeJS.ProcessEnv;
  schedulerTimeoutMs?: number;
  run?: CommandRunner;
}

/** Everything status says about a study but its rows (what `streamStatus` returns once every row was handed out). */
export interface StatusOverview {
  generatedAt: string;
  out: string;
  plan: { planId: string; path: string; taskCount: number };
  /** The study, for the failure catalogue's next steps (local when no scheduler submission is recorded). */
  study: StudyRef;
  /** `total` counts every row (invalid ones included); `excluded` the subjects --include/--exclude left out (no rows). */
  totals: Record<StatusState, number> & { total: number; excluded: number };
  /** Failed (and stale with a known cause) tasks per category. */
  byCategory: Record<string, number>;
  /** Failing subjects by category, damaged markers and logs: what the summary view needs of the rows. */
  digest: StatusDigest;
  scheduler: Pick<SchedulerView, "sources" | "commands">;
  submissions: Array<{ id: string; scheduler: string; createdAt: string; jobIds: string[]; queried: boolean }>;
  writeBacks: Array<{ key: string; kind: string; outcome: WriteBackOutcome }>;
  problems: string[];
  /** Subjects the plan set aside: invalid (not run) and excluded (src/study/set-aside.ts). */
  setAside: SetAside;
  /** The newest canary verdict that left tasks of this study not run (src/status/canary-view.ts). */
  canary: CanaryReport | null;
}

export interface StatusReport extends StatusOverview {
  /** One per task, plus one per subject set aside as `invalid` (state `invalid`, index -1), by key. */
  rows: StatusRow[];
}

/** Subject folders read per batch (the reads in flight, 64): short-lived, see src/collect/collect.ts. */
const BATCH = 64;

/**
 * Every task's state, as a whole report with every row: for small studies and the library's
 * callers that need the rows together (cancel, resubmit). A large study is read with
 * `streamStatus`, which hands the rows out one at a time.
 */
export async function readStatus(out: string, opts: StatusOptions = {}): Promise<StatusReport> {
  const rows: StatusRow[] = [];
  const overview = await streamStatus(out, opts, (row) => {
    rows.push(row);
  });
  return { ...overview, rows };
}

/**
 * Every task's state: the output folder's records (done, attempt records, locks) combined with
 * the scheduler's view of the submissions that still matter (one batched query per scheduler,
 * never one per task), contradictions explained, and the scheduler's verdicts written back.
 *
 * Each row is handed to `onRow` as soon as it is made, in plan order (the invalid subjects'
 * rows placed by key), and not kept: memory does not grow with the rows (200,000 tasks in
 * bounded memory; see docs/scale.md). The subject folders are read once, a batch at a time;
 * what the rows need of them afterwards (the scheduler is asked in between) is kept compactly
 * (src/state/task-state-store.ts).
 */
export async function streamStatus(out: string, opts: StatusOptions, onRow: (row: StatusRow) => void | Promise<void>): Promise<StatusOverview> {
  const outDir = path.resolve(out);
  const planFile = path.resolve(opts.planFile ?? currentPlanFile(outDir));
  const plan = await openPlanRefs(planFile, outDir);
  try {
    // Refuses a plan of another study before anything is read or written here.
    resolveStudyDir(outDir, plan.header, planFile);
    return await statusOf(outDir, planFile, plan, opts, onRow);
  } finally {
    plan.close();
  }
}

async function statusOf(outDir: string, planFile: string, plan: PlanRefs, opts: StatusOptions, onRow: (row: StatusRow) => void | Promise<void>): Promise<StatusOverview> {
  const header = plan.header;
  const problems: string[] = [];
  const laterProblems: string[] = [];

  const submissions = await readSubmissions(outDir, laterProblems);
  const otherPlans = new Map<string, { tasks: { index: number; key: string }[] } | null>();
  for (const s of submissions) {
    if (s.plan_id === header.plan_id || otherPlans.has(s.plan_path)) continue;
    otherPlans.set(s.plan_path, await loadPlanTasks(s.plan_path, (t) => ({ index: t.index, key: t.key })).catch(() => null));
  }
  const placements = new PlacementIndex(submissions, header.plan_id, (s) => {
    const other = otherPlans.get(s.plan_path);
    if (!other) return () => undefined;
    const keys = new Map(other.tasks.map((t) => [t.index, t.key]));
    return (i) => keys.get(i);
  });
  otherPlans.clear();
  const bySequence = new Map<string, Submission>();
  for (const s of submissions) for (const sh of s.shards) if (sh.job_id) bySequence.set(jobSequence(sh.job_id), s);

  // Ask only about submissions that can still tell something: those holding an unfinished task
  // (as its newest placement, or named by a dead attempt / a KILLED recovery record).
  const needed = new Set<string>();
  const notice = (s: TaskState): void => {
    if (opts.schedulerPeaks) {
      const shown = s.done === "current" ? s.doneRecord : s.latestAttempt;
      const sub = shown?.job_id && !SCHEDULER_RSS_SOURCES.has(shown.max_rss_source ?? "") ? bySequence.get(jobSequence(shown.job_id)) : undefined;
      if (sub) needed.add(sub.submission_id);
    }
    if (s.done === "current") return;
    const p = placements.get(s);
    if (p) needed.add(p.submission.submission_id);
    // The newest record run-one wrote from what it saw (CANCELLED/KILLED): the scheduler may know why.
    const correctable = [...s.failedAttempts].reverse().find((r) => r.recorded_by !== "scheduler" && CORRECTABLE_CATEGORIES.has(r.category));
    for (const id of [s.attemptStart?.job_id, correctable?.job_id]) {
      const sub = id ? bySequence.get(jobSequence(id)) : undefined;
      if (sub) needed.add(sub.submission_id);
    }
  };

  // The subject folders, a batch at a time; done records of the previous status are reused
  // while their `_done.json` is unchanged (the cache is read and rewritten in plan order).
  const store = new TaskStateStore(header.task_count);
  const read = await openTaskStateReader(outDir, opts.io ? { io: opts.io } : {});
  const doneCache = new DoneCacheStream(outDir);
  const readBatch = async (batch: PlanTaskRef[]): Promise<void> => {
    const dirs = batch.map((t) => t.output_dir);
    const cache = doneCache.batch(dirs);
    const states = await read(batch, cache);
    doneCache.keep(cache, dirs);
    for (const st of states) {
      problems.push(...st.problems);
      notice(st);
      store.put(st);
    }
  };
  try {
    let batch: PlanTaskRef[] = [];
    await plan.forEach(async (task) => {
      batch.push(task);
      if (batch.length < BATCH) return;
      const full = batch;
      batch = [];
      await readBatch(full);
    });
    if (batch.length > 0) await readBatch(batch);
  } catch (e) {
    doneCache.abort();
    throw e;
  }
  doneCache.finish();
  problems.push(...laterProblems);

  const toQuery = submissions.filter((s) => needed.has(s.submission_id) && s.scheduler !== "local");
  const view: SchedulerView =
    opts.queryScheduler === false || toQuery.length === 0
      ? { sources: [], elements: new Map(), commands: [], jobs: new Set<string>() }
      : await querySchedulerView(toQuery, {
          ...(opts.env ? { env: opts.env } : {}),
          ...(opts.schedulerTimeoutMs ? { timeoutMs: opts.schedulerTimeoutMs } : {}),
          ...(opts.run ? { run: opts.run } : {}),
        });
  addRequestedLimits(view, bySequence);
  const answered = new Set(view.sources.filter((s) => s.source !== "none").map((s) => s.scheduler as string));
  const queriedIds = new Set(toQuery.map((s) => s.submission_id));

  // A record's element as a placement finds it: a one-element array may be listed by its job id alone.
  const lookup = (recordJobId: string) => {
    const { jobId, arrayIndex } = parseElementId(recordJobId);
    if (arrayIndex === null) return view.elements.get(elementKey(jobId, null)) ?? null;
    const count = bySequence.get(jobSequence(jobId))?.shards.find((sh) => sh.job_id === jobId)?.count ?? 0;
    return elementState(view, jobId, arrayIndex, count);
  };
  // An element's MaxRSS is one subject's own only when the element ran that subject alone.
  const peakLookup = (recordJobId: string) => {
    const { jobId, arrayIndex } = parseElementId(recordJobId);
    const sub = bySequence.get(jobSequence(jobId));
    const shard = sub?.shards.find((sh) => sh.job_id === jobId);
    const chunk = sub && shard ? sub.chunks[shard.first_chunk + (arrayIndex ?? 0)] : undefined;
    return chunk?.length === 1 ? lookup(recordJobId) : null;
  };
  const recordedSince = (planIndex: number, p: Placement): boolean => {
    if (planIndex < 0 || planIndex >= header.task_count) return true;
    const st = store.facts(planIndex);
    if (st.done === "current" || st.lock.kind === "held" || st.started) return true;
    const count = p.submission.shards.find((sh) => sh.job_id === p.jobId)?.count ?? 1;
    return hasRecordSince(st, p, elementIdOf(p.jobId, p.arrayIndex, count));
  };

  const canary = new CanaryMarker(outDir, submissions, (row) => placements.get(row));
  const setAside = setAsideOf(header);
  const invalid = [...setAside.invalid].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(invalidRow);
  let nextInvalid = 0;
  const totals = Object.fromEntries(STATUS_STATES.map((s) => [s, 0])) as Record<StatusState, number>;
  let total = 0;
  const categories = new Map<string, number>();
  const digest = new StatusDigestBuilder(outDir);
  const writeBacks: StatusOverview["writeBacks"] = [];
  const emit = async (row: StatusRow): Promise<void> => {
    totals[row.state]++;
    total++;
    if (row.index >= 0 && (row.state === "failed" || row.state === "stale") && row.category) categories.set(row.category, (categories.get(row.category) ?? 0) + 1);
    digest.add(row);
    await onRow(row);
  };

  await plan.forEach(async (task) => {
    const ts = store.get(task);
    const placement = placements.get(task);
    const count = placement ? (placement.submission.shards.find((sh) => sh.job_id === placement.jobId)?.count ?? 1) : 1;
    const sched = placement ? elementState(view, placement.jobId, placement.arrayIndex, count) : null;
    const row = deriveTaskStatus({
      ts,
      placement,
      sched,
      schedulerAnswered: placement ? queriedIds.has(placement.submission.submission_id) && answered.has(placement.submission.scheduler) : false,
      jobKnown: placement ? view.jobs.has(jobSequence(placement.jobId)) : false,
      lookup,
      peakLookup,
      ...(placement ? { chunkRecorded: (idx: number) => recordedSince(idx, placement) } : {}),
    });

    // A failure the scheduler recorded (run-one never wrote one): its words are in the scheduler's output file.
    const last = ts.latestAttempt;
    if (row.state === "failed" && !row.schedulerLogPath && last && last.recorded_by === "scheduler" && last.job_id) {
      const sub = bySequence.get(jobSequence(last.job_id));
      if (sub) row.schedulerLogPath = schedulerOutputFile(sub, last.job_id);
    }
    canary.mark(row);
    if (opts.writeBack !== false && row.writeBack) await writeBack(row, ts, task);

    while (nextInvalid < invalid.length && invalid[nextInvalid]!.key < row.key) await emit(invalid[nextInvalid++]!);
    await emit(row);
  });
  while (nextInvalid < invalid.length) await emit(invalid[nextInvalid++]!);

  async function writeBack(row: StatusRow, ts: TaskState, task: PlanTaskRef): Promise<void> {
    const wb = row.writeBack!;
    let outcome: WriteBackOutcome;
    try {
      // Rare: the whole task (its csttool argv goes into the record) is read only here.
      const full = await loadPlanTask(planFile, row.index);
      outcome = await applyWriteBack(outDir, header, full.task, wb);
    } catch (e) {
      problems.push(`${task.output_dir}: could not record the scheduler's ${wb.kind === "peak" ? "peak memory (MaxRSS)" : `verdict (${wb.category})`}: ${(e as Error).message}`);
      return;
    }
    writeBacks.push({ key: row.key, kind: wb.kind, outcome });
    if (outcome.kind !== "written" || wb.kind === "peak") return;
    // A refined record decides the row only when it is the one the row shows (derive chose that already).
    if (wb.kind !== "refine") row.category = wb.category;
    row.durationSeconds ??= wb.sched.elapsedSeconds;
    if (row.maxRssKb === null && wb.sched.maxRssKb !== null) {
      row.maxRssKb = wb.sched.maxRssKb;
      row.maxRssSource = wb.sched.peakSource ?? "sacct";
    }
    if (wb.kind !== "refine") {
      row.state = "failed";
      row.attempts += 1;
      row.failures.push({ category: wb.category, configHash: task.config_hash });
    } else {
      const i = ts.failedAttempts.findIndex((r) => r.attempt_id === wb.attemptId);
      if (i >= 0 && row.failures[i]) row.failures[i] = { ...row.failures[i]!, category: wb.category };
    }
  }

  return {
    generatedAt: new Date().toISOString(),
    out: outDir,
    plan: { planId: header.plan_id, path: planFile, taskCount: header.task_count },
    study: studyOfPlan(outDir, header, isLocalStudy(submissions)),
    setAside,
    totals: { ...totals, total, excluded: setAside.excluded.length },
    byCategory: inCatalogueOrder(categories),
    digest: digest.result(),
    scheduler: { sources: view.sources, commands: view.commands },
    submissions: submissions.map((s) => ({
      id: s.submission_id,
      scheduler: s.scheduler,
      createdAt: s.created_at,
      jobIds: s.shards.map((sh) => sh.job_id).filter((j): j is string => j !== null),
      queried: queriedIds.has(s.submission_id),
    })),
    writeBacks,
    problems,
    canary: canary.result(),
  };
}

function inCatalogueOrder(counts: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of FAILURE_CATEGORIES) if (counts.get(c)) out[c] = counts.get(c)!;
  return out;
}

/**
 * The limits each element asked for, when the scheduler did not say (sacct, squeue): from the
 * submission record (`resources.array`), so that a kill at the request is recognised (see
 * src/failures/scheduler-verdict.ts).
 */
function addRequestedLimits(view: SchedulerView, bySequence: ReadonlyMap<string, Submission>): void {
  for (const st of view.elements.values()) {
    const sub = bySequence.get(jobSequence(st.jobId));
    const array = sub?.resources.array;
    if (typeof array !== "object" || array === null) continue;
    const { mem_mib: mem, time_seconds: time } = array as Record<string, unknown>;
    if (st.requestedMemKb == null && typeof mem === "number") st.requestedMemKb = mem * 1024;
    if (st.requestedSeconds == null && typeof time === "number") st.requestedSeconds = time;
  }
}
