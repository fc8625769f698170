// Over ~350 lines: the status rules are one ordered derivation (deriveTaskStatus), kept in one
// function so their order is read in one place; the scheduler verdict and peak rules live beside it.
import { EXIT } from "../errors.js";
import { categoryOfSchedulerEnd, REQUEUE_CAUSES, schedulerCorrection, schedulerWillRun } from "../failures/scheduler-verdict.js";
import type { SchedulerJobState, TaskSchedulerState } from "../schedulers/types.js";
import type { AttemptRecord, FailureCategory, LockOwner, MaxRssSource } from "../schemas/records.js";
import type { TaskState } from "../state/task-state.js";
import type { InvalidSubject } from "../schemas/plan.js";
import type { Placement } from "./submissions.js";
import { timeOf } from "../util/time.js";
import { schedulerOutputFile } from "../schedulers/output-file.js";
import { takeSchedulerPeak } from "./scheduler-peak.js";

/**
 * The status of one task, derived from its folder and the scheduler's view (pure; see
 * `deriveTaskStatus` for the rules).
 */
export const STATUS_STATES = ["done", "running", "pending-in-queue", "failed", "stale", "damaged", "not-run", "unknown", "never-submitted", "invalid"] as const;
export type StatusState = (typeof STATUS_STATES)[number];

/** What only the scheduler knows, to be recorded into the subject folder (see write-back.ts). */
export type WriteBack =
  /** Element ended abnormally, the task left nothing: write a new scheduler attempt record. */
  | { kind: "record"; category: FailureCategory; elementId: string; sched: TaskSchedulerState; submissionCreatedAt: string; message: string }
  /** A dead attempt left `_work/`: file it away with the scheduler's category (what run-one's recovery would do, knowing more). */
  | { kind: "archive-work"; category: FailureCategory; elementId: string; sched: TaskSchedulerState; message: string }
  /** A recovery record said KILLED; the scheduler knows better (TIMEOUT, OUT_OF_MEMORY, ...). */
  | { kind: "refine"; category: FailureCategory; attemptId: string; elementId: string; sched: TaskSchedulerState; message: string }
  /**
   * The scheduler's accounting (sacct MaxRSS) knows a larger peak than run-one's own figure for
   * the same run (`_done.json`, or the attempt record `attemptId`): the larger one is recorded,
   * with source `sacct` (run-one's own figure kept beside it). Never changes the category.
   */
  | { kind: "peak"; record: "done" | { attemptId: string }; elementId: string; sched: TaskSchedulerState & { maxRssKb: number } };

export interface StatusRow {
  /** The plan task index; -1 for an `invalid` row (a subject the plan set aside, in no task). */
  index: number;
  key: string;
  subject: string;
  session: string | null;
  state: StatusState;
  category: FailureCategory | null;
  /** Why the state is what it is, when that is not obvious (scheduler reason, contradiction explained). */
  reason: string | null;
  attempts: number;
  durationSeconds: number | null;
  maxRssKb: number | null;
  /** Where `maxRssKb` came from (cgroup, rusage, sampled, sacct); null when unknown (see docs/peak-memory.md). */
  maxRssSource: MaxRssSource | null;
  /** The array element (`12_3`, `48[3].server`) of the newest submission holding the task, else the record's. */
  jobId: string | null;
  logPath: string;
  errorLogPath: string | null;
  /** Absolute: the scheduler's own output file of the element, for a task that ended without a record of its own (there is then no error log). */
  schedulerLogPath: string | null;
  /** The process holding the subject's lock (state running or stale): what `cancel` signals for a local run. */
  lockOwner: { pid: number; host: string; since: string; jobId: string | null } | null;
  /** Absolute: the damaged `_done.json` (state `damaged`). */
  damagedFile: string | null;
  /** The scheduler's word on the task's newest element, when asked. */
  scheduler: { state: SchedulerJobState; raw: string; reason: string | null; exitCode: number | null } | null;
  writeBack: WriteBack | null;
  /** Every recorded failure (oldest first): category and the configuration it ran (for retry limits). */
  failures: Array<{ category: FailureCategory; configHash: string }>;
  /** The lock is held by orphans of a dead run-one on this host (taking the lock reaps them). */
  staleLock: boolean;
  /** State `invalid` only: what preflight found wrong with the subject (--skip-invalid set it aside). */
  problems?: InvalidSubject["problems"];
}

/** What status knows besides `TaskState`. */
export interface DeriveInput {
  ts: TaskState;
  placement: Placement | null;
  /** The scheduler's state of the placement's element, null when unknown. */
  sched: TaskSchedulerState | null;
  /** The scheduler was asked about the placement's submission and answered. */
  schedulerAnswered: boolean;
  /** The scheduler listed other elements of the placement's array job. */
  jobKnown?: boolean;
  /** Element state for a recorded job id (`12_3`), for records that name a job. */
  lookup: (recordJobId: string) => TaskSchedulerState | null;
  /** Whether the task at a plan index of the same chunk has been dealt with by the element (record since the submission, done, or running). */
  chunkRecorded?: (planIndex: number) => boolean;
  /**
   * Element state for a record's job id when the element ran that task alone (a chunk of one),
   * so that its MaxRSS is this subject's own; null otherwise or when unknown.
   */
  peakLookup?: (recordJobId: string) => TaskSchedulerState | null;
}


const ENDED_ABNORMALLY: ReadonlySet<SchedulerJobState> = new Set(["failed", "cancelled", "killed", "timeout", "out_of_memory", "node_fail", "preempted"]);

/** `12` + 3 -> `12_3`; `48[].server` + 3 -> `48[3].server`; a one-element PBS Pro job keeps its plain id. */
export function elementIdOf(jobId: string, arrayIndex: number, elementCount: number): string {
  if (jobId.includes("[]")) return jobId.replace("[]", `[${arrayIndex}]`);
  if (/^\d+$/.test(jobId)) return `${jobId}_${arrayIndex}`;
  return elementCount === 1 ? jobId : `${jobId}[${arrayIndex}]`;
}

/** `12_3` -> {job 12, index 3}; `48[3].server` -> {48[].server, 3}; `12` / `1235.pbs` -> index null. */
export function parseElementId(id: string): { jobId: string; arrayIndex: number | null } {
  const slurm = /^(\d+)_(\d+)$/.exec(id);
  if (slurm) return { jobId: slurm[1] as string, arrayIndex: Number(slurm[2]) };
  const pbs = /^(\d+)\[(\d+)\](.*)$/.exec(id);
  if (pbs) return { jobId: `${pbs[1]}[]${pbs[3]}`, arrayIndex: Number(pbs[2]) };
  return { jobId: id, arrayIndex: null };
}

/**
 * The category the scheduler's end implies for a task that left no record of its own. A plain
 * FAILED (non-zero exit of the job script) without a record means cst-batch itself could not run
 * (missing module, node, plan): SYSTEM, not a pipeline failure.
 */
export function schedulerCategory(sched: TaskSchedulerState): FailureCategory | null {
  return categoryOfSchedulerEnd(sched);
}

/** `TIMEOUT (sacct: TIMEOUT, exit 0:9, elapsed 95 s)` style evidence for messages. */
export function describeSched(sched: TaskSchedulerState): string {
  const parts = [sched.rawState];
  if (sched.reason) parts.push(`reason ${sched.reason}`);
  if (sched.exitCode !== null) parts.push(`exit ${sched.exitCode}${sched.signal !== null ? `:${sched.signal}` : ""}`);
  else if (sched.signal !== null) parts.push(`signal ${sched.signal}`);
  if (sched.elapsedSeconds !== null) parts.push(`elapsed ${sched.elapsedSeconds} s`);
  if (sched.maxRssKb !== null) parts.push(`MaxRSS ${sched.maxRssKb} KiB`);
  return parts.join(", ");
}

function describeOwner(owner: { pid: number; host: string; job_id: string | null }): string {
  return `pid ${owner.pid} on ${owner.host}${owner.job_id ? `, job ${owner.job_id}` : ""}`;
}

/** Has the task a record (done or attempt) from this element, or from anything that ran after the submission was made? */
export function hasRecordSince(ts: Pick<TaskState, "failedAttempts"> & { doneRecord: { finished_at: string; job_id: string | null } | null }, placement: Placement, elementId: string): boolean {
  const since = timeOf(placement.submission.created_at);
  const recs: Array<{ finished_at: string; job_id: string | null }> = [...ts.failedAttempts];
  if (ts.doneRecord) recs.push(ts.doneRecord);
  return recs.some((r) => r.job_id === elementId || timeOf(r.finished_at) >= since);
}

/**
 * The rules, in order:
 *   done             `_done.json` is current;
 *   running          the lock is held by a live process (or one on another host);
 *   stale            the lock is held but its owner on this host is dead (orphans hold it), or
 *                    `_work/attempt.json` exists while nobody holds the lock (the attempt died
 *                    without a record); with the scheduler's verdict when it has one;
 *   (newest submission holding the task, when nothing was recorded since it was made:)
 *   pending-in-queue its element is pending (or running an earlier task of its chunk);
 *   running          its element is running and this task is next (run-one starting);
 *   failed           its element ended abnormally and this is the task it was on: the
 *                    scheduler's category (written back as a "scheduler" attempt record);
 *   not-run          its element ended before reaching this task, or ended without a trace;
 *   unknown          the scheduler no longer knows the element and nothing was recorded;
 *   failed           the latest attempt record (this config, newer than any done record);
 *   damaged          `_done.json` cannot be read (its path shown; the next run moves it aside);
 *   never-submitted  anything else (also: done only for an older configuration).
 */
export function deriveTaskStatus(input: DeriveInput): StatusRow {
  const { ts, placement, sched } = input;
  const count = placement ? (placement.submission.shards.find((s) => s.job_id === placement.jobId)?.count ?? 1) : 1;
  const elementId = placement ? elementIdOf(placement.jobId, placement.arrayIndex, count) : null;
  const row: StatusRow = {
    index: ts.index,
    key: ts.key,
    subject: ts.subject,
    session: ts.session,
    state: "never-submitted",
    category: null,
    reason: null,
    attempts: ts.attempts,
    durationSeconds: ts.durationSeconds,
    maxRssKb: ts.maxRssKb,
    maxRssSource: ts.maxRssSource,
    jobId: ts.jobId ?? elementId,
    logPath: ts.logPath,
    errorLogPath: ts.errorLogPath,
    schedulerLogPath: null,
    damagedFile: ts.damagedDone,
    lockOwner: ts.lock.kind === "held" && ts.lock.owner ? { pid: ts.lock.owner.pid, host: ts.lock.owner.host, since: ts.lock.owner.since, jobId: ts.lock.owner.job_id } : null,
    scheduler: sched ? { state: sched.state, raw: sched.rawState, reason: sched.reason, exitCode: sched.exitCode } : null,
    writeBack: null,
    failures: ts.failedAttempts.map((r) => ({ category: r.category, configHash: r.config_hash })),
    staleLock: false,
  };
  const latest = ts.latestAttempt;
  const lastRecord = latest ?? null;
  const setFromRecord = (r: AttemptRecord | null): void => {
    if (!r) return;
    row.durationSeconds = r.duration_seconds;
    row.maxRssKb = r.max_rss_kb;
    row.maxRssSource = r.max_rss_source;
    row.jobId = r.job_id;
  };

  // run-one (or its recovery) recorded CANCELLED/KILLED while the scheduler knows why: correct
  // the newest such record (any state); the next status corrects an older one.
  for (const r of [...ts.failedAttempts].reverse()) {
    if (r.recorded_by === "scheduler" || !r.job_id) continue;
    const s = input.lookup(r.job_id);
    const cat = s ? schedulerCorrection(r.category, s) : null;
    if (s && cat) {
      const who = r.recorded_by === "recovery" ? "run-one's recovery" : "run-one";
      row.writeBack = {
        kind: "refine",
        category: cat,
        attemptId: r.attempt_id,
        elementId: r.job_id,
        sched: s,
        message: `${REQUEUE_CAUSES.has(cat) ? "requeued by the scheduler: " : ""}the scheduler says job ${r.job_id} ended ${describeSched(s)}; ${who} had recorded ${r.category}: ${r.message}`,
      };
      break;
    }
  }

  if (ts.done === "current") {
    row.state = "done";
    takeSchedulerPeak(row, input, ts.doneRecord, "done");
    return row;
  }

  if (ts.lock.kind === "held") {
    const owner: LockOwner | null = ts.lock.owner;
    // The local rules (running or stale) are TaskState's (src/state/task-state.ts), shared with collect.
    if (owner && ts.status === "stale") {
      row.state = "stale";
      row.staleLock = true;
      const s = owner.job_id ? input.lookup(owner.job_id) : null;
      row.reason = `the lock is held, but its owner (${describeOwner(owner)}) is dead: orphaned csttool processes still hold it; the next run of this subject stops them${s ? ` (the scheduler says ${owner.job_id} ended ${describeSched(s)})` : ""}`;
      row.category = s ? schedulerCategory(s) : null;
    } else {
      row.state = "running";
      row.jobId = owner?.job_id ?? row.jobId;
      row.reason = owner ? `running: ${describeOwner(owner)} since ${owner.since}` : null;
      row.durationSeconds = owner ? Math.max(0, (Date.now() - timeOf(owner.since)) / 1000) : null;
    }
    return row;
  }

  const start = ts.attemptStart;
  if (ts.started) {
    if (ts.status === "running") {
      row.state = "running";
      row.reason = start ? `attempt of ${describeOwner(start)} in progress (the lock cannot be probed here)` : null;
      return row;
    }
    row.state = "stale";
    const who = start ? `${describeOwner(start)}, started ${start.started_at}` : "unknown owner";
    row.reason = `an attempt (${who}) ended without a record (its _work/ is left; the next run files it as KILLED)`;
    row.jobId = start?.job_id ?? row.jobId;
    const s = start?.job_id ? input.lookup(start.job_id) : null;
    // run-one was running csttool when its element FAILED without a record: it was killed (squeue
    // shows no exit code; sacct shows 0:9), unless it exited by itself with a status (a crash: SYSTEM).
    if (s && start?.job_id && schedulerWillRun(s)) {
      // Requeued (node failure, preemption): the scheduler runs the element again; that run files the `_work/`.
      row.state = s.state === "running" ? "running" : "pending-in-queue";
      row.reason = `requeued by the scheduler: the attempt (${who}) was stopped and ${start.job_id} is ${describeSched(s)} again`;
      return row;
    }
    // A FAILED element without an exit status was killed (squeue shows none; sacct 0:9).
    const killed = s && s.state === "failed" && s.signal === null && (s.exitCode === null || s.exitCode === 0);
    const cat = s ? categoryOfSchedulerEnd(killed ? { ...s, signal: 9 } : s) : null;
    if (s && cat && start?.job_id) {
      // What run-one saw while stopping (a SIGTERM: CANCELLED) gives way to a cause the scheduler knows.
      const pending = start.pending_category;
      const decided = pending ? (schedulerCorrection(pending, s) ?? (cat === "OUT_OF_MEMORY" || REQUEUE_CAUSES.has(cat) ? cat : pending)) : cat;
      row.category = decided;
      row.reason = `the attempt (${who}) ended without a record; the scheduler says ${describeSched(s)}`;
      row.writeBack = {
        kind: "archive-work",
        category: decided,
        elementId: start.job_id,
        sched: s,
        message: `the attempt ended without recording its outcome; the scheduler says job ${start.job_id} ended ${describeSched(s)}`,
      };
    } else if (start?.pending_category) {
      row.category = start.pending_category;
    }
    return row;
  }

  if (placement && elementId && !hasRecordSince(ts, placement, elementId)) {
    row.jobId = elementId;
    // Nothing of cst-batch's since the submission: the scheduler's output file is where the element's words are.
    row.schedulerLogPath = schedulerOutputFile(placement.submission, elementId);
    if (!sched) {
      if (input.schedulerAnswered && input.jobKnown) {
        row.state = "not-run";
        row.reason = `the scheduler lists array job ${placement.jobId} but not ${elementId}, and nothing was recorded: most likely cancelled before it started`;
      } else if (input.schedulerAnswered) {
        row.state = "unknown";
        row.reason = `submitted as ${elementId} (submission ${placement.submission.submission_id}); the scheduler no longer lists it (finished longer ago than it keeps jobs, and no accounting) and it left no record`;
        row.category = ts.status === "failed" ? ts.category : null;
      } else {
        row.state = "pending-in-queue";
        row.reason = `submitted as ${elementId} (submission ${placement.submission.submission_id}); the scheduler could not be asked, so queued is assumed`;
      }
      return row;
    }
    // Earlier tasks of the chunk that have no record since the submission: the element is not past them.
    const firstUnrecorded = placement.chunk.findIndex((idx, pos) => pos < placement.position && idx !== ts.index && !input.chunkRecorded?.(idx));
    const isCurrent = firstUnrecorded === -1;
    switch (sched.state) {
      case "pending":
        row.state = "pending-in-queue";
        row.reason = sched.reason ? `queued (${sched.reason})` : "queued";
        return row;
      case "running":
        row.state = isCurrent ? "running" : "pending-in-queue";
        row.reason = isCurrent ? `element ${elementId} is running; the task has not taken its lock yet` : `element ${elementId} is running an earlier task of its chunk`;
        return row;
      case "completed":
        row.state = "not-run";
        row.reason = `element ${elementId} ended ${describeSched(sched)} without recording this task`;
        return row;
      case "unknown":
        row.state = "unknown";
        row.reason = `the scheduler reports ${describeSched(sched)} for ${elementId}`;
        return row;
      default:
        break;
    }
    if (ENDED_ABNORMALLY.has(sched.state)) {
      const cat = schedulerCategory(sched);
      if (!isCurrent) {
        row.state = "not-run";
        row.reason = `element ${elementId} ended ${describeSched(sched)} before reaching this task`;
        return row;
      }
      if (sched.state === "failed" && sched.exitCode === EXIT.LOCK_BUSY) {
        row.state = "not-run";
        row.reason = `element ${elementId} found the subject locked by another run (exit ${EXIT.LOCK_BUSY})`;
        return row;
      }
      row.state = "failed";
      row.category = cat;
      row.durationSeconds = sched.elapsedSeconds;
      row.maxRssKb = sched.maxRssKb;
      row.maxRssSource = sched.maxRssKb === null ? null : (sched.peakSource ?? "sacct");
      const neverStarted = sched.state === "cancelled" && (sched.elapsedSeconds ?? 0) === 0 && sched.node === null;
      const message = neverStarted
        ? `job ${elementId} was cancelled before it started (${describeSched(sched)})`
        : `job ${elementId} ended without a record from cst-batch (killed before it could write one); the scheduler says ${describeSched(sched)}`;
      row.reason = message;
      if (cat) row.writeBack = { kind: "record", category: cat, elementId, sched, submissionCreatedAt: placement.submission.created_at, message };
      return row;
    }
  }

  if (placement && elementId && sched && lastRecord?.job_id === elementId && schedulerWillRun(sched)) {
    // The element that wrote the newest record is queued or running again, and has not moved on
    // to a later task of its chunk: the scheduler requeued it (node failure, preemption). Not a
    // failure while the scheduler still runs it (and `resubmit` must not run it a second time).
    const later = placement.chunk.slice(placement.position + 1);
    if (sched.state === "pending" || !later.some((idx) => input.chunkRecorded?.(idx))) {
      row.state = sched.state === "running" ? "running" : "pending-in-queue";
      row.reason = `requeued by the scheduler: ${elementId} is ${describeSched(sched)} again after the attempt recorded ${lastRecord.category}`;
      setFromRecord(lastRecord);
      takeSchedulerPeak(row, input, lastRecord, { attemptId: lastRecord.attempt_id });
      row.jobId = elementId;
      return row;
    }
  }

  if (ts.status === "failed" && lastRecord) {
    row.state = "failed";
    row.category = row.writeBack?.kind === "refine" && row.writeBack.attemptId === lastRecord.attempt_id ? row.writeBack.category : ts.category;
    row.reason = lastRecord.message;
    setFromRecord(lastRecord);
    takeSchedulerPeak(row, input, lastRecord, { attemptId: lastRecord.attempt_id });
    return row;
  }
  if (ts.damagedDone) {
    row.state = "damaged";
    row.reason = `${ts.damagedDone} cannot be read (damaged): not counted as done; the next run of this subject moves it aside and runs the subject again`;
    return row;
  }
  if (ts.done === "outdated") row.reason = "done for an older configuration";
  else if (ts.latestAttempt) row.reason = "failed for an older configuration";
  return row;
}
