import path from "node:path";
import { resolveStudyDir } from "../study/study-folder.js";
import { setAsideOf, type SetAside } from "../study/set-aside.js";
import { currentPlanFile, loadPlanRefs, loadPlanTask, loadPlanTasks } from "../plan/load-plan.js";
import { FAILURE_CATEGORIES } from "../schemas/records.js";
import type { Submission } from "../schemas/study-records.js";
import { loadDoneRecordCache, saveDoneRecordCache } from "../state/done-cache.js";
import { readAllTaskStates, type IoMode, type TaskState } from "../state/task-state.js";
import { deriveTaskStatus, elementIdOf, hasRecordSince, parseElementId, STATUS_STATES, type StatusRow, type StatusState } from "./derive.js";
import { elementKey, elementState, jobSequence, querySchedulerView, type CommandRunner, type SchedulerView } from "./scheduler-view.js";
import { latestPlacements, readSubmissions, type Placement } from "./submissions.js";
import { isLocalStudy, studyOfPlan } from "../failures/study.js";
import type { StudyRef } from "../failures/catalogue.js";
import { schedulerOutputFile } from "../schedulers/output-file.js";
import { applyWriteBack, type WriteBackOutcome } from "./write-back.js";
import { withInvalidRows } from "./invalid-rows.js";
import { CORRECTABLE_CATEGORIES } from "../failures/scheduler-verdict.js";
import { applyCanaryVerdicts, type CanaryReport } from "./canary-view.js";

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

export interface StatusReport {
  generatedAt: string;
  out: string;
  plan: { planId: string; path: string; taskCount: number };
  /** The study, for the failure catalogue's next steps (local when no scheduler submission is recorded). */
  study: StudyRef;
  /** One per task, plus one per subject set aside as `invalid` (state `invalid`, index -1), by key. */
  rows: StatusRow[];
  /** `total` counts every row (invalid ones included); `excluded` the subjects --include/--exclude left out (no rows). */
  totals: Record<StatusState, number> & { total: number; excluded: number };
  /** Failed (and stale with a known cause) tasks per category. */
  byCategory: Record<string, number>;
  scheduler: Pick<SchedulerView, "sources" | "commands">;
  submissions: Array<{ id: string; scheduler: string; createdAt: string; jobIds: string[]; queried: boolean }>;
  writeBacks: Array<{ key: string; kind: string; outcome: WriteBackOutcome }>;
  problems: string[];
  /** Subjects the plan set aside: invalid (not run) and excluded (src/study/set-aside.ts). */
  setAside: SetAside;
  /** The newest canary verdict that left tasks of this study not run (src/status/canary-view.ts). */
  canary: CanaryReport | null;
}

/**
 * Every task's state: the output folder's records (done, attempt records, locks) combined with
 * the scheduler's view of the submissions that still matter (one batched query per scheduler,
 * never one per task), contradictions explained, and the scheduler's verdicts written back.
 */
export async function readStatus(out: string, opts: StatusOptions = {}): Promise<StatusReport> {
  const outDir = path.resolve(out);
  const planFile = path.resolve(opts.planFile ?? currentPlanFile(outDir));
  const plan = await loadPlanRefs(planFile, outDir);
  // Refuses a plan of another study before anything is read or written here.
  resolveStudyDir(outDir, plan, planFile);
  const problems: string[] = [];
  // Done records of the previous status are reused while their `_done.json` is unchanged.
  const doneCache = loadDoneRecordCache(outDir);
  const states = await readAllTaskStates(outDir, plan.tasks, { doneCache, ...(opts.io ? { io: opts.io } : {}) });
  saveDoneRecordCache(outDir, doneCache);
  for (const s of states) problems.push(...s.problems);
  const stateByIndex = new Map(states.map((s) => [s.index, s]));
  const taskByIndex = new Map(plan.tasks.map((t) => [t.index, t]));

  const submissions = await readSubmissions(outDir, problems);
  const otherPlans = new Map<string, { tasks: { index: number; key: string }[] } | null>();
  for (const s of submissions) {
    if (s.plan_id === plan.plan_id || otherPlans.has(s.plan_path)) continue;
    otherPlans.set(s.plan_path, await loadPlanTasks(s.plan_path, (t) => ({ index: t.index, key: t.key })).catch(() => null));
  }
  const placements = latestPlacements(submissions, (s) => {
    if (s.plan_id === plan.plan_id) return (i) => taskByIndex.get(i)?.key;
    const other = otherPlans.get(s.plan_path);
    if (!other) return () => undefined;
    const keys = new Map(other.tasks.map((t) => [t.index, t.key]));
    return (i) => keys.get(i);
  });

  // Ask only about submissions that can still tell something: those holding an unfinished task
  // (as its newest placement, or named by a dead attempt / a KILLED recovery record).
  const needed = new Set<string>();
  const bySequence = new Map<string, Submission>();
  for (const s of submissions) for (const sh of s.shards) if (sh.job_id) bySequence.set(jobSequence(sh.job_id), s);
  states.forEach((s) => {
    if (s.done === "current") return;
    const p = placements.get(s.key);
    if (p) needed.add(p.submission.submission_id);
    // The newest record run-one wrote from what it saw (CANCELLED/KILLED): the scheduler may know why.
    const correctable = [...s.failedAttempts].reverse().find((r) => r.recorded_by !== "scheduler" && CORRECTABLE_CATEGORIES.has(r.category));
    const ids = [s.attemptStart?.job_id, correctable?.job_id];
    for (const id of ids) {
      const sub = id ? bySequence.get(jobSequence(id)) : undefined;
      if (sub) needed.add(sub.submission_id);
    }
  });
  if (opts.schedulerPeaks) {
    for (const s of states) {
      const shown = s.done === "current" ? s.doneRecord : s.latestAttempt;
      if (!shown?.job_id || shown.max_rss_source === "sacct") continue;
      const sub = bySequence.get(jobSequence(shown.job_id));
      if (sub) needed.add(sub.submission_id);
    }
  }
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

  const lookup = (recordJobId: string) => {
    const { jobId, arrayIndex } = parseElementId(recordJobId);
    return view.elements.get(elementKey(jobId, arrayIndex)) ?? null;
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
    const st = stateByIndex.get(planIndex);
    if (!st) return true;
    if (st.done === "current" || st.lock.kind === "held" || st.started) return true;
    const count = p.submission.shards.find((sh) => sh.job_id === p.jobId)?.count ?? 1;
    return hasRecordSince(st, p, elementIdOf(p.jobId, p.arrayIndex, count));
  };

  const rows = states.map((ts: TaskState) => {
    const placement = placements.get(ts.key) ?? null;
    const count = placement ? (placement.submission.shards.find((sh) => sh.job_id === placement.jobId)?.count ?? 1) : 1;
    const sched = placement ? elementState(view, placement.jobId, placement.arrayIndex, count) : null;
    return deriveTaskStatus({
      ts,
      placement,
      sched,
      schedulerAnswered: placement ? queriedIds.has(placement.submission.submission_id) && answered.has(placement.submission.scheduler) : false,
      jobKnown: placement ? view.jobs.has(jobSequence(placement.jobId)) : false,
      lookup,
      peakLookup,
      ...(placement ? { chunkRecorded: (idx: number) => recordedSince(idx, placement) } : {}),
    });
  });

  // A failure the scheduler recorded (run-one never wrote one): its words are in the scheduler's output file.
  for (const row of rows) {
    const last = stateByIndex.get(row.index)?.latestAttempt;
    if (row.state !== "failed" || row.schedulerLogPath || !last || last.recorded_by !== "scheduler" || !last.job_id) continue;
    const sub = bySequence.get(jobSequence(last.job_id));
    if (sub) row.schedulerLogPath = schedulerOutputFile(sub, last.job_id);
  }

  const canary = applyCanaryVerdicts(outDir, rows, (key) => placements.get(key) ?? null);

  const writeBacks: StatusReport["writeBacks"] = [];
  if (opts.writeBack !== false) {
    for (const row of rows) {
      const wb = row.writeBack;
      if (!wb) continue;
      const task = taskByIndex.get(row.index)!;
      let outcome: WriteBackOutcome;
      try {
        // Rare: the whole task (its csttool argv goes into the record) is read only here.
        const full = await loadPlanTask(planFile, row.index);
        outcome = await applyWriteBack(outDir, plan, full.task, wb);
      } catch (e) {
        problems.push(`${task.output_dir}: could not record the scheduler's ${wb.kind === "peak" ? "peak memory (MaxRSS)" : `verdict (${wb.category})`}: ${(e as Error).message}`);
        continue;
      }
      writeBacks.push({ key: row.key, kind: wb.kind, outcome });
      if (outcome.kind === "written" && wb.kind !== "peak") {
        // A refined record decides the row only when it is the one the row shows (derive chose that already).
        if (wb.kind !== "refine") row.category = wb.category;
        row.durationSeconds ??= wb.sched.elapsedSeconds;
        if (row.maxRssKb === null && wb.sched.maxRssKb !== null) {
          row.maxRssKb = wb.sched.maxRssKb;
          row.maxRssSource = "sacct";
        }
        if (wb.kind !== "refine") {
          row.state = "failed";
          row.attempts += 1;
          row.failures.push({ category: wb.category, configHash: task.config_hash });
        } else {
          const ts = stateByIndex.get(row.index);
          const i = ts ? ts.failedAttempts.findIndex((r) => r.attempt_id === wb.attemptId) : -1;
          if (i >= 0 && row.failures[i]) row.failures[i] = { ...row.failures[i]!, category: wb.category };
        }
      }
    }
  }

  const setAside = setAsideOf(plan);
  const allRows = withInvalidRows(rows, setAside.invalid);
  return {
    generatedAt: new Date().toISOString(),
    out: outDir,
    plan: { planId: plan.plan_id, path: planFile, taskCount: plan.tasks.length },
    study: studyOfPlan(outDir, plan, isLocalStudy(submissions)),
    setAside,
    rows: allRows,
    totals: { ...countStates(allRows), excluded: setAside.excluded.length },
    byCategory: countCategories(rows),
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
    canary,
  };
}

function countStates(rows: readonly StatusRow[]): Record<StatusState, number> & { total: number } {
  const totals = Object.fromEntries(STATUS_STATES.map((s) => [s, 0])) as Record<StatusState, number>;
  for (const r of rows) totals[r.state]++;
  return { ...totals, total: rows.length };
}

function countCategories(rows: readonly StatusRow[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of rows) if ((r.state === "failed" || r.state === "stale") && r.category) counts.set(r.category, (counts.get(r.category) ?? 0) + 1);
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
