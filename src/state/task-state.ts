import path from "node:path";
import os from "node:os";
import { ownerProcessAlive } from "../processes/procs.js";
import {
  ATTEMPT_FILE,
  FAILED_DIR,
  LOCK_FILE,
  WORK_DIR,
  logsDir,
  relativeErrorLogFile,
  relativeLogFile,
  taskPaths,
} from "../layout.js";
import type { PlanTaskRef } from "../plan/load-plan.js";
import { leasePath, probeLock } from "../lock/lock.js";
import { mapLimit } from "../util/map-limit.js";
import { timeOf } from "../util/time.js";
import {
  AttemptStartSchema,
  type AttemptRecord,
  type AttemptStart,
  type FailureCategory,
  type LockOwner,
} from "../schemas/records.js";
import type { DoneSummary } from "../schemas/status-cache.js";
import type { MaxRssSource } from "../schemas/records.js";
import type { DoneRecordCache } from "./done-cache.js";
import { ASYNC_IO, taskIoFor, type IoMode, type TaskIo } from "./task-io.js";

export { ASYNC_IO, SYNC_IO, taskIoFor, type IoMode, type TaskIo } from "./task-io.js";
import type { DoneState } from "./done.js";
import { listDir, readDone, readFailedAttempts, readStateWith } from "./task-files.js";

/**
 * The one local derivation of a task's state (status adds the scheduler's view on top; collect
 * reports it as it is): see `applyStatus`.
 */
export type TaskStatus = "success" | "failed" | "pending" | "running" | "stale";

/** What `probeLock` said, or `not-probed` when the answer could not change the status. */
export type LockState =
  | { kind: "free" }
  | { kind: "held"; owner: LockOwner | null }
  | { kind: "unsupported"; reason: string }
  | { kind: "not-probed" };

/** Everything the subject folder says about one plan task, with its status derived. */
export interface TaskState {
  index: number;
  key: string;
  subject: string;
  session: string | null;
  /** Relative to out. */
  outputDir: string;
  status: TaskStatus;
  /** What `_done.json` says for the task's current config hash. */
  done: DoneState["kind"];
  /** The `_done.json` that cannot be read (absolute path), when it is damaged. */
  damagedDone: string | null;
  /** What is kept of the `_done.json` record when it parsed (current or outdated). */
  doneRecord: DoneSummary | null;
  /** csttool's HTML report among the done record's files (relative to the subject folder). */
  htmlReport: string | null;
  /** Valid failed-attempt records, oldest first. */
  failedAttempts: AttemptRecord[];
  latestAttempt: AttemptRecord | null;
  /** Failed attempts + 1 when a `_done.json` record exists. */
  attempts: number;
  /**
   * `_work/attempt.json` exists: an attempt started and has not been cleaned up. Not looked up
   * (false) when `done` is current, nor is the lock probed then: neither can change the status.
   */
  started: boolean;
  lock: LockState;
  /** Whether the lock owner's process lives: known only on the owner's host (null elsewhere, or when the lock is not held). */
  lockOwnerAlive: boolean | null;
  /** `_work/attempt.json`, read when an attempt started and nobody holds the lock. */
  attemptStart: AttemptStart | null;
  /** Whether that attempt's process lives (this host only). */
  attemptOwnerAlive: boolean | null;
  /** Set for failed tasks (the latest attempt's category). */
  category: FailureCategory | null;
  /** Set for failed tasks (the latest attempt's message). */
  error: string | null;
  /** Of the record that decides the status: the done record, the latest attempt or the lock owner. */
  durationSeconds: number | null;
  host: string | null;
  jobId: string | null;
  maxRssKb: number | null;
  /** Where maxRssKb came from (cgroup, rusage, sampled, sacct); null when unknown. */
  maxRssSource: MaxRssSource | null;
  /** Relative to out. */
  logPath: string;
  /** Relative to out; null when the file does not exist. */
  errorLogPath: string | null;
  /** Damaged state files, by path, with the reason. */
  problems: string[];
}

/** Shared per-batch facts, probe settings and the file reading strategy. */
export interface TaskStateContext {
  /** Names in `<out>/logs`; when given, error-log existence is looked up here instead of a stat. */
  logNames?: ReadonlySet<string>;
  /** Probe a flock `_lock` even when there is no `_work/` (see `mayBeLocked`). */
  probeAllLocks?: boolean;
  /** How files are read; default async. */
  io?: TaskIo;
  /** Done records of an earlier read, reused while their `_done.json` is unchanged (status). */
  doneCache?: DoneRecordCache;
}

const LEASE_NAME = path.basename(leasePath(LOCK_FILE));

/**
 * Whether the lock is worth probing. A flock probe runs `flock(1)` (a process per task), and
 * `_lock` stays behind after every run, so it is probed only while `_work/` exists: run-one
 * creates `_work/` moments after taking the lock (once it has recovered an earlier attempt and
 * checked `_done.json`), and `_work/` is gone (promoted, or moved to `_failed_attempts/`) before
 * the lock is released. So a run is seen as running from its attempt's start; the short
 * bookkeeping before that is not. A lease file exists only while held, so it is always probed.
 */
function mayBeLocked(names: ReadonlySet<string>, ctx: TaskStateContext): boolean {
  if (names.has(LEASE_NAME)) return true;
  return names.has(LOCK_FILE) && (names.has(WORK_DIR) || ctx.probeAllLocks === true);
}

/** What reading a task's state needs of its plan task. */
export type TaskStateRef = PlanTaskRef;

/** Read one task's state from its subject folder; damaged files become `problems`, never throws for them. */
export async function readTaskState(out: string, task: TaskStateRef, ctx: TaskStateContext = {}): Promise<TaskState> {
  const io = ctx.io ?? ASYNC_IO;
  const paths = taskPaths(out, task);
  const problems: string[] = [];
  const logPath = relativeLogFile(task.key);
  const errorLogRel = relativeErrorLogFile(task.key);

  // A current `_done.json` settles the status whatever the lock and `_work/` say, so it is read
  // first: a finished subject then costs a look for `_failed_attempts/` instead of listing its
  // folder (10,000 of them in a status). Otherwise one readdir tells which managed names exist.
  const done = await readDone(io, paths.done, task, ctx.doneCache, problems);
  // `_done.json` was looked up just now (an open, or a stat with a cache): no stat of the folder first.
  const names = done.kind === "current" ? null : await listDir(io, paths.dir, problems, false);
  const { record: doneRecord, htmlReport } = done;

  // A done record that says the subject had no failed attempts (every writer of one turns it
  // true first) spares the look for `_failed_attempts/`; an older record is looked for as before.
  const hasFailed = names === null ? doneRecord?.had_failed_attempts !== false && (await io.exists(paths.failed)) : names.has(FAILED_DIR);
  const failedAttempts = hasFailed ? await readFailedAttempts(io, paths.failed, problems) : [];
  const latestAttempt = failedAttempts.at(-1) ?? null;

  const started = names !== null && names.has(WORK_DIR) && (await io.exists(path.join(paths.work, ATTEMPT_FILE)));

  let lock: LockState = { kind: "not-probed" };
  if (names !== null && mayBeLocked(names, ctx)) {
    try {
      lock = await probeLock(paths.lock);
    } catch (e) {
      // e.g. the lock file cannot be opened (permissions): say so, do not fail the whole read.
      lock = { kind: "unsupported", reason: (e as Error).message };
      problems.push(`${paths.lock}: cannot probe the lock: ${(e as Error).message}`);
    }
  }

  // Liveness (this host only): a held lock whose owner is dead, or an attempt that left
  // `_work/attempt.json` behind with nobody holding the lock, is stale (status and collect agree).
  const host = os.hostname();
  let lockOwnerAlive: boolean | null = null;
  if (lock.kind === "held" && lock.owner && lock.owner.host === host) lockOwnerAlive = await ownerProcessAlive(lock.owner.pid, lock.owner.since);
  let attemptStart: AttemptStart | null = null;
  let attemptOwnerAlive: boolean | null = null;
  if (started && lock.kind !== "held") {
    const r = await readStateWith(io, path.join(paths.work, ATTEMPT_FILE), AttemptStartSchema);
    if (r.kind === "ok") {
      attemptStart = r.value;
      if (attemptStart.host === host) attemptOwnerAlive = await ownerProcessAlive(attemptStart.pid, attemptStart.started_at);
    }
  }

  const errorLogExists = ctx.logNames ? ctx.logNames.has(path.basename(errorLogRel)) : await io.exists(paths.errorLog);

  const state: TaskState = {
    index: task.index,
    key: task.key,
    subject: task.subject,
    session: task.session,
    outputDir: task.output_dir,
    status: "pending",
    done: done.kind,
    damagedDone: done.kind === "corrupt" ? paths.done : null,
    doneRecord,
    htmlReport,
    failedAttempts,
    latestAttempt,
    attempts: failedAttempts.length + (doneRecord ? 1 : 0),
    started,
    lock,
    lockOwnerAlive,
    attemptStart,
    attemptOwnerAlive,
    category: null,
    error: null,
    durationSeconds: null,
    host: null,
    jobId: null,
    maxRssKb: null,
    maxRssSource: null,
    logPath,
    errorLogPath: errorLogExists ? errorLogRel : null,
    problems,
  };
  applyStatus(state, task.config_hash);
  return state;
}

/**
 * The status rules, in order:
 *   success  `_done.json` is current (its config hash is the task's);
 *   running  the subject lock is held by a live process (or one on another host), or an attempt
 *            is in progress where the lock cannot be probed;
 *   stale    the lock is held but its owner on this host is dead (orphans hold it), or
 *            `_work/attempt.json` is left while nobody holds the lock (the attempt died without
 *            a record; the next run files it as KILLED);
 *   failed   the latest failed attempt ran this config and finished after the latest done record
 *            (or there is none);
 *   pending  anything else: never run, done outdated by a config change, or only failures of an
 *            older config (the new config has not been tried yet).
 */
function applyStatus(state: TaskState, configHash: string): void {
  const done = state.doneRecord;
  if (state.done === "current" && done) {
    state.status = "success";
    setRun(state, done);
    return;
  }
  if (state.lock.kind === "held") {
    state.status = state.lock.owner && state.lockOwnerAlive === false ? "stale" : "running";
    state.host = state.lock.owner?.host ?? null;
    state.jobId = state.lock.owner?.job_id ?? null;
    return;
  }
  if (state.started) {
    const start = state.attemptStart;
    state.status = state.lock.kind === "unsupported" && state.attemptOwnerAlive !== false ? "running" : "stale";
    state.host = start?.host ?? null;
    state.jobId = start?.job_id ?? null;
    state.category = state.status === "stale" ? (start?.pending_category ?? null) : null;
    return;
  }
  const latest = state.latestAttempt;
  if (latest && latest.config_hash === configHash && (!done || timeOf(latest.finished_at) >= timeOf(done.finished_at))) {
    state.status = "failed";
    state.category = latest.category;
    state.error = latest.message;
    setRun(state, latest);
    return;
  }
  state.status = "pending";
}

function setRun(state: TaskState, r: DoneSummary | AttemptRecord): void {
  state.durationSeconds = r.duration_seconds;
  state.host = r.host;
  state.jobId = r.job_id;
  state.maxRssKb = r.max_rss_kb;
  state.maxRssSource = r.max_rss_source;
}

/** Names in `<out>/logs`, for `TaskStateContext.logNames`; empty when the folder does not exist. */
export async function readLogNames(out: string, io: TaskIo = ASYNC_IO): Promise<Set<string>> {
  return listDir(io, logsDir(out));
}

// ------------------------------------------------------------------ many tasks

export interface ReadAllOptions {
  /** Reads in flight at once (async I/O); default 64. */
  concurrency?: number;
  /** File reading strategy; default "auto". */
  io?: IoMode;
  probeAllLocks?: boolean;
  doneCache?: DoneRecordCache;
}

/** Read the state of every task with bounded parallelism; results in task order. */
export async function readAllTaskStates(out: string, tasks: readonly TaskStateRef[], opts: ReadAllOptions = {}): Promise<TaskState[]> {
  const read = await openTaskStateReader(out, opts);
  return read(tasks, opts.doneCache);
}

/** Reads batches of tasks' states (results in task order), the I/O mode and the `logs/` listing taken once for all of them. */
export type TaskStateReader = (tasks: readonly TaskStateRef[], doneCache?: DoneRecordCache) => Promise<TaskState[]>;

/** A `TaskStateReader` for `out`: status reads a large study a batch at a time with it. */
export async function openTaskStateReader(out: string, opts: Omit<ReadAllOptions, "doneCache"> = {}): Promise<TaskStateReader> {
  const io = await taskIoFor(out, opts.io);
  const logNames = await readLogNames(out, io);
  const base: TaskStateContext = { logNames, io, probeAllLocks: opts.probeAllLocks ?? false };
  return (tasks, doneCache) => {
    const ctx: TaskStateContext = doneCache ? { ...base, doneCache } : base;
    return mapLimit(tasks, opts.concurrency ?? 64, (task) => readTaskState(out, task, ctx), io.mode === "sync" ? 4 : 0);
  };
}
