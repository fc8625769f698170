import fs, { constants as fsConstants } from "node:fs";
import path from "node:path";
import { randomHex } from "../util/random-hex.js";
import { CstError, EXIT, errnoCode, type ExitCode } from "../errors.js";
import { csttoolOutDir, dicomLinkDir, eventLogPath, logsDir, taskPaths, WORK_DIR, type TaskPaths } from "../layout.js";
import { csttoolArgv, linkedSeries } from "./csttool-argv.js";
import { studyDirOfPlan } from "../study/study-folder.js";
import {
  AttemptStartSchema,
  SCHEMA_VERSION,
  type AttemptRecord,
  type AttemptStart,
  type DoneRecord,
  type FailureCategory,
  type LockOwner,
  type PlanHeader,
  type PlanTask,
} from "../schemas/records.js";
import { readDoneState } from "../state/done.js";
import { CORRUPT_SUFFIX } from "../state/damage.js";
import { rmQuietly } from "../util/quiet-fs.js";
import { assertNoLinks, assertRealDirs, mkdirConfined } from "../util/confined-fs.js";
import { findConflicts, ownedFiles } from "./ownership.js";
import { readStateFileSync } from "../util/read-json.js";
import { CST_BATCH_VERSION } from "../version.js";
import {
  archiveWorkDir,
  buildAttemptRecord,
  detectJobId,
  failedAttemptDir,
  fsTimestamp,
  hostName,
  taskIdentity,
  writeAttemptStartSync,
  type RunIdentity,
} from "./attempt.js";
import { checkInputs, linkDicomSeries } from "./inputs.js";
import { acquireLock, describeOwner, type HeldLock, type LockResult } from "../lock/lock.js";
// load-plan.ts, not planner.ts (which re-exports it): keeps discovery/DICOM code off run-one's start-up path.
import { loadPlanTask } from "../plan/load-plan.js";
import {
  applyPromotion,
  findMetricsFile,
  listFiles,
  readJournal,
  removeTrash,
  stageOutput,
  STAGED_DIR,
  writeJournal,
  PromotionConflictError,
  type PromoteJournal,
} from "./promote.js";
import { describeOomEvidence, readOomKillCount } from "./oom.js";
import { abortCategory, supervise, type SuperviseResult } from "./supervise.js";
import { ARGPARSE_NEXT_STEP, argparseRejection, csttoolLines, explainNoMetrics } from "./csttool-outcome.js";
// The tiny O_APPEND appender, not pino: keeps run-one's start-up light (see src/events/events.ts).
import { recordEvent } from "../events/events.js";
import { failureLines, noteSubjectLog } from "../events/subject-log.js";
import { pauseForTest } from "../util/test-pause.js";
import { failureEntry, type StudyRef } from "../failures/catalogue.js";
import { STOP_SIGNALS } from "../failures/signals.js";

/**
 * Run one plan task: lock the subject folder, recover what an earlier run left, skip when done,
 * check inputs, run csttool under supervision, then promote the result or record the failure.
 */

export interface TaskRef {
  index: number;
  key: string;
  subject: string;
  session: string | null;
  /** Absolute subject folder. */
  dir: string;
  /** Absolute log file. */
  logFile: string;
}

export type RunOneOutcome =
  | { kind: "success"; task: TaskRef; record: DoneRecord }
  | { kind: "skipped"; reason: "done"; task: TaskRef; record: DoneRecord }
  | { kind: "failed"; task: TaskRef; category: FailureCategory; record: AttemptRecord; attemptDir: string | null }
  | { kind: "busy"; task: TaskRef; owner: LockOwner | null };

export type RunOneEvent =
  | { type: "busy"; task: TaskRef; owner: LockOwner | null; message: string }
  | { type: "recovered"; task: TaskRef; what: "promotion" | "attempt" | "corrupt-done"; message: string }
  | { type: "started"; task: TaskRef; argv: string[] }
  | { type: "stopping"; task: TaskRef; reason: "timeout" | "aborted"; category: FailureCategory }
  | { type: "finished"; task: TaskRef; outcome: RunOneOutcome["kind"]; category?: FailureCategory };

export interface RunOneOptions {
  planFile: string;
  index: number;
  /** The plan's header and this task, already read (local mode reads the plan once for all tasks). */
  loaded?: { header: PlanHeader; task: PlanTask };
  /** The study folder, already resolved (local mode); default: `studyDirOfPlan(planFile, header)`. */
  studyDir?: string;
  force?: boolean;
  /** Abort with reason "CANCELLED" or "TIMEOUT" (or `{category, signal?}`). */
  signal?: AbortSignal;
  timeoutMinutes?: number;
  graceSeconds?: number;
  /** Grace after an abort is min(grace, this); default CST_BATCH_SIGNAL_GRACE_SECONDS or 10. */
  signalGraceSeconds?: number;
  /** undefined: detected from SLURM_* / PBS_JOBID. */
  jobId?: string | null;
  /** Run csttool inside a container: `<runtime> exec [--bind DIRS] <image> <csttool argv>`. */
  container?: { runtime: "apptainer" | "singularity"; image: string } | null;
  /** Environment for csttool (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The subject's lock, already being taken with `lockTask(taskPaths(out, task), jobId)`. */
  lock?: TaskLock;
  /**
   * Called once csttool has exited and its leftover processes are gone, or it could not be
   * started, before the output is promoted or the failure recorded; a returned promise holds
   * those back until it settles (local mode starts its next task's csttool first, so the
   * promotion overlaps that run). Not called when the attempt ends before csttool.
   */
  onCsttoolExit?: () => void | Promise<void>;
  onEvent?: (e: RunOneEvent) => void;
  /** Let the result replace files in the subject folder that cst-batch did not create. */
  adoptExisting?: boolean;
}

/** Exit code of `run-one` for an outcome (see EXIT in src/errors.ts). */
export function exitCodeFor(outcome: RunOneOutcome): ExitCode {
  switch (outcome.kind) {
    case "success":
    case "skipped":
      return EXIT.OK;
    case "busy":
      return EXIT.LOCK_BUSY;
    case "failed":
      return failureEntry(outcome.category).exitCode;
  }
}

/** The worst of several exit codes (for a chunk of tasks): busy < subject failed < killed < system. */
export function worstExitCode(codes: readonly number[]): number {
  const rank = (c: number): number =>
    c === EXIT.OK ? 0 : c === EXIT.LOCK_BUSY ? 1 : c === EXIT.SUBJECT_FAILED ? 2 : c === EXIT.TIMEOUT_OR_KILLED ? 3 : 4;
  return codes.reduce((worst, c) => (rank(c) > rank(worst) ? c : worst), EXIT.OK as number);
}

/**
 * Prefix csttool's argv with `<runtime> exec --bind DIRS <image>`. The output folder and the
 * input folders are bound at the same paths (apptainer binds only $HOME, /tmp and $PWD by
 * default); a folder whose path holds `,` or `:` (the bind list separators) is left out.
 */
export function containerArgv(argv: readonly string[], container: { runtime: string; image: string }, bindDirs: readonly string[]): string[] {
  const binds = [...new Set(bindDirs.map((d) => path.resolve(d)))].sort();
  // A bind list is `src[:dst],...`: a folder whose path holds ',' or ':' cannot be in it (plan refuses such paths first).
  const unbindable = binds.find((d) => /[,:]/.test(d));
  if (unbindable !== undefined) {
    throw new CstError("SYSTEM", `${container.runtime} cannot bind the folder ${unbindable}: its path holds "${/,/.test(unbindable) ? "," : ":"}", which a --bind list cannot express`, {
      hint: "rename or move that folder (or run without --container-image), then run the subject again",
    });
  }
  return [container.runtime, "exec", ...(binds.length > 0 ? ["--bind", binds.join(",")] : []), container.image, ...argv];
}

/** Folders a containerised csttool must see: the output folder and the task's input folders. */
export function taskBindDirs(out: string, task: PlanTask): string[] {
  const input = task.input;
  const dirs = [out];
  if (input.kind === "nifti") {
    for (const f of [input.nifti, input.bval, input.bvec, input.json]) if (f) dirs.push(path.dirname(f));
  } else {
    dirs.push(input.dicom_dir);
  }
  return dirs;
}

function envSeconds(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

/** A task's subject lock being taken: its run token and the outcome to come. */
export interface TaskLock {
  /** The run's token (in the lock owner, and csttool's CST_BATCH_RUN_TOKEN). */
  token: string;
  /** Never left unhandled: a rejection is seen by whoever awaits it. */
  acquired: Promise<LockResult>;
}

/**
 * Start taking the lock of the subject folder `paths.dir` (made first). runOne calls this
 * itself; local mode calls it for a worker's next task once the current csttool is gone (before
 * its output is promoted), and passes the result as `RunOneOptions.lock`.
 */
export function lockTask(paths: Pick<TaskPaths, "out" | "dir" | "lock">, jobId: string | null): TaskLock {
  const token = randomHex(16);
  const acquired = (async (): Promise<LockResult> => {
    try {
      mkdirConfined(paths.out, paths.dir);
    } catch (e) {
      if (e instanceof CstError) throw e;
      throw new CstError("SYSTEM", `cannot create the subject folder ${paths.dir}: ${(e as Error).message}`, { cause: e });
    }
    pauseForTest("before-lock");
    return acquireLock(paths.lock, { pid: process.pid, host: hostName(), job_id: jobId, since: new Date().toISOString(), token, child_pgid: null });
  })();
  acquired.catch(() => {});
  return { token, acquired };
}

export async function runOne(opts: RunOneOptions): Promise<RunOneOutcome> {
  const { header, task } = opts.loaded ?? (await loadPlanTask(opts.planFile, opts.index));
  const out = opts.studyDir ?? studyDirOfPlan(opts.planFile, header);
  const paths = taskPaths(out, task);
  const ref: TaskRef = {
    index: task.index,
    key: task.key,
    subject: task.subject,
    session: task.session,
    dir: paths.dir,
    logFile: paths.log,
  };
  const emit = (e: RunOneEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      // an observer must not break the run
    }
  };
  const jobId = opts.jobId !== undefined ? opts.jobId : detectJobId();
  const study = studyOfTask(out, opts.planFile, header, task, jobId);
  const pending = opts.lock ?? lockTask(paths, jobId);
  const token = pending.token;
  const acquired = await pending.acquired;
  if (acquired.kind === "busy") {
    emit({ type: "busy", task: ref, owner: acquired.owner, message: `${task.key} is being run by ${describeOwner(acquired.owner)}` });
    return { kind: "busy", task: ref, owner: acquired.owner };
  }
  if (acquired.kind === "unsupported") {
    throw new CstError("LOCK_UNSUPPORTED", acquired.reason, {
      hint: "set CST_BATCH_LOCK_MODE=lease (lease files instead of kernel locks) or use an output folder on a filesystem with flock",
    });
  }
  const lock = acquired.lock;
  pauseForTest("after-lock");
  try {
    await recover(out, paths, task, header, ref, emit, study).catch((e: unknown) => {
      if (e instanceof CstError) throw e;
      throw new CstError("SYSTEM", `cannot recover what an earlier run left in ${paths.dir}: ${(e as Error).message}`, {
        cause: e,
        hint: errnoCode(e) === "ENOSPC" ? "the output filesystem is full; free space, then rerun (the earlier run is recovered then)" : "check the subject folder's permissions, then rerun",
      });
    });
    const state = await readDoneState(paths.done, task.config_hash);
    if (state.kind === "current" && !opts.force) {
      const outcome: RunOneOutcome = { kind: "skipped", reason: "done", task: ref, record: state.record };
      emit({ type: "finished", task: ref, outcome: "skipped" });
      return outcome;
    }
    if (state.kind === "corrupt") {
      const aside = `${paths.done}${CORRUPT_SUFFIX}${fsTimestamp()}`;
      try {
        fs.renameSync(paths.done, aside);
      } catch {
        // gone meanwhile: nothing to keep
      }
      emit({ type: "recovered", task: ref, what: "corrupt-done", message: `${paths.done} was damaged (${state.reason}); kept as ${path.basename(aside)}` });
    }
    const outcome = await attempt({ opts, header, task, out, paths, ref, lock, jobId, token, emit, study });
    recordOutcomeEvents(out, outcome);
    emit({ type: "finished", task: ref, outcome: outcome.kind, ...(outcome.kind === "failed" ? { category: outcome.category } : {}) });
    return outcome;
  } finally {
    // supervise() returns only once every process of the run is gone.
    await lock.release();
  }
}

/**
 * The study a failure's next step is written for: inside a scheduler job, rerun with `resubmit`
 * (this subject); outside one (local mode, by hand), with run-one on the same plan and index.
 */
function studyOfTask(out: string, planFile: string, header: PlanHeader, task: PlanTask, jobId: string | null): StudyRef {
  const src = header.source;
  return {
    out,
    local: jobId === null,
    subjects: [task.key],
    task: { planFile: path.resolve(planFile), index: task.index },
    source: src.type === "bids" ? { flag: "--bids-dir", path: src.bids_dir } : { flag: "--manifest", path: src.manifest_path },
    timeoutMinutes: header.run.timeout_minutes,
  };
}

/** The event-log lines of an attempt's outcome: promoted + finished, or failed with its category. */
function recordOutcomeEvents(out: string, o: RunOneOutcome): void {
  const t = { key: o.task.key, index: o.task.index };
  if (o.kind === "success") {
    recordEvent(out, { event: "promoted", ...t, files: o.record.files.length, metrics_file: o.record.metrics_file });
    recordEvent(out, { event: "finished", ...t, duration_seconds: o.record.duration_seconds, max_rss_kb: o.record.max_rss_kb });
  } else if (o.kind === "failed") {
    const r = o.record;
    recordEvent(out, { event: "failed", ...t, category: o.category, message: r.message, next_step: r.next_step, attempt_dir: o.attemptDir, duration_seconds: r.duration_seconds });
  }
}

/** Finish an interrupted promotion, or file away the work folder of a run that died. */
async function recover(out: string, paths: TaskPaths, task: PlanTask, header: PlanHeader, ref: TaskRef, emit: (e: RunOneEvent) => void, study: StudyRef): Promise<void> {
  // No `_work`: no earlier attempt or promotion to finish.
  if (!(await removeTrash(paths.dir)).has(WORK_DIR)) return;
  const journal = await readJournal(paths.work);
  if (journal.kind === "ok") {
    await applyPromotion(paths.out, paths.dir, journal.journal);
    emit({ type: "recovered", task: ref, what: "promotion", message: `finished an interrupted promotion in ${paths.dir}` });
    return;
  }
  let workStat: fs.Stats;
  try {
    workStat = fs.lstatSync(paths.work);
  } catch {
    return;
  }
  if (!workStat.isDirectory()) {
    // cst-batch never makes `_work` a link or a file: remove it without writing through it.
    fs.rmSync(paths.work, { force: true });
    emit({ type: "recovered", task: ref, what: "attempt", message: `removed ${paths.work}: it was ${workStat.isSymbolicLink() ? "a symbolic link" : "not a folder"} (not made by cst-batch)` });
    return;
  }
  const startRead = readStateFileSync(path.join(paths.work, "attempt.json"), AttemptStartSchema);
  const start = startRead.kind === "ok" ? startRead.value : null;
  const category: FailureCategory = start?.pending_category ?? "KILLED";
  const now = new Date();
  const startedAt = start?.started_at ?? now.toISOString();
  const who = start ? `host ${start.host}, pid ${start.pid}, job ${start.job_id ?? "none"}, started ${start.started_at}` : "unknown (no readable attempt.json)";
  const message =
    journal.kind === "corrupt"
      ? `an earlier attempt (${who}) died while writing its promotion journal (${journal.reason}); nothing was promoted`
      : `an earlier attempt (${who}) ended without recording its outcome${start?.pending_category ? ` (it was stopping: ${start.pending_category})` : " (killed, or its node failed)"}`;
  const identity: RunIdentity = {
    ...taskIdentity(header, task),
    config_hash: start?.config_hash ?? task.config_hash,
    plan_id: start?.plan_id ?? header.plan_id,
    started_at: startedAt,
    finished_at: now.toISOString(),
    duration_seconds: Math.max(0, (now.getTime() - Date.parse(startedAt)) / 1000) || 0,
    host: start?.host ?? "unknown",
    pid: start?.pid ?? 0,
    job_id: start?.job_id ?? null,
    csttool_argv: csttoolArgv(header.csttool.executable, task, paths.dir),
    max_rss_kb: null,
  };
  const tail = await readLogTail(paths.log);
  const target = await failedAttemptDir(paths.out, paths.dir, category, now);
  const record = buildAttemptRecord(target.id, identity, { category, message, exitCode: null, signal: null, logTail: tail, recordedBy: "recovery", study });
  noteSubjectLog(paths.out, paths.log, [`recovered by a later run (pid ${process.pid} on ${hostName()})`, ...failureLines(category, message, record.next_step)]);
  await archiveWorkDir(paths.work, paths.dir, record, target, paths.log);
  await copyErrorLog(paths);
  recordEvent(out, { event: "failed", key: task.key, index: task.index, category, message, next_step: record.next_step, attempt_dir: target.dir, duration_seconds: null });
  emit({ type: "recovered", task: ref, what: "attempt", message: `${message}; moved to ${path.relative(paths.dir, target.dir)}` });
}

async function readLogTail(file: string): Promise<string[]> {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.split("\n").filter((l) => l !== "").slice(-30);
  } catch {
    return [];
  }
}

async function copyErrorLog(paths: TaskPaths): Promise<void> {
  try {
    mkdirConfined(paths.out, path.dirname(paths.errorLog));
    // unlink removes a planted symlink itself; EXCL: never write through one planted meanwhile.
    rmQuietly(paths.errorLog);
    fs.copyFileSync(paths.log, paths.errorLog, fsConstants.COPYFILE_EXCL);
  } catch {
    // no log (failed before it was opened) or no space: the record holds the tail
  }
}

interface AttemptContext {
  opts: RunOneOptions;
  header: PlanHeader;
  task: PlanTask;
  out: string;
  paths: TaskPaths;
  ref: TaskRef;
  lock: HeldLock;
  jobId: string | null;
  token: string;
  emit: (e: RunOneEvent) => void;
  /** The study, for the next step of a failure. */
  study: StudyRef;
}

/** Category and message for a csttool run that did not succeed (null: it exited 0). */
export function classify(
  r: SuperviseResult,
  argv0: string,
  timeoutMinutes: number,
  signalName: string | null,
): { category: FailureCategory; message: string; nextStep?: string } | null {
  // csttool's own last words (a traceback's final line), not cst-batch's closing note in the log.
  const lastLine = csttoolLines(r.logTail).at(-1);
  switch (r.reason) {
    case "spawn-failed":
      return {
        category: "SYSTEM",
        message: `cannot start csttool (${argv0}): ${r.spawnError?.code ?? ""} ${r.spawnError?.message ?? ""}`.trim(),
      };
    case "timeout":
      return { category: "TIMEOUT", message: `csttool ran longer than the time limit (${timeoutMinutes} min) and was stopped` };
    case "aborted":
      return {
        category: r.category ?? "CANCELLED",
        message: `stopped on request${signalName ? ` (${signalName})` : ""}: ${r.category === "TIMEOUT" ? "the job's time limit is near" : "the job was cancelled"}`,
      };
    case "exited":
      break;
  }
  if (r.signal === "SIGKILL") {
    return { category: "OUT_OF_MEMORY", message: "csttool was killed by SIGKILL that cst-batch did not send; most often the out-of-memory killer" };
  }
  if (r.signal) return { category: "KILLED", message: `csttool was killed by ${r.signal}` };
  if (r.exitCode !== 0 && r.logTail.some((l) => /No space left on device|\[Errno 28\]|Disk quota exceeded|\[Errno 122\]/.test(l))) {
    return { category: "SYSTEM", message: `csttool exited with status ${r.exitCode}: the disk is full (no space left on device, or over quota)` };
  }
  const rejected = argparseRejection(r.exitCode, r.logTail);
  if (rejected) return { category: "VALIDATION", message: rejected, nextStep: ARGPARSE_NEXT_STEP };
  if (r.exitCode !== 0) {
    return { category: "PIPELINE_FAILED", message: `csttool exited with status ${r.exitCode}${lastLine ? `: ${lastLine}` : ""}` };
  }
  return null;
}

/** Signals a scheduler sends to every process of a job when it cancels it or its time is up (the catalogue's stop signals). */
const JOB_STOP_SIGNALS: ReadonlySet<string> = new Set(STOP_SIGNALS.map(([signal]) => signal));
/** How long to wait for our own copy of such a signal after csttool died of one. */
const SIBLING_SIGNAL_WAIT_MS = 300;

/**
 * `scancel` (or a walltime) signals every process of the job at once, so csttool may die of the
 * SIGTERM before run-one has handled its own copy. When csttool died of such a signal, wait a
 * moment for ours: if it comes, the run was stopped with us (CANCELLED / TIMEOUT), not killed.
 */
async function stoppedWithUs(result: SuperviseResult, signal: AbortSignal | undefined): Promise<SuperviseResult> {
  if (result.reason !== "exited" || result.signal === null || !JOB_STOP_SIGNALS.has(result.signal) || !signal) return result;
  if (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SIBLING_SIGNAL_WAIT_MS);
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
  return signal.aborted ? { ...result, reason: "aborted", category: abortCategory(signal) } : result;
}

function signalNameOf(signal: AbortSignal | undefined): string | null {
  const r: unknown = signal?.reason;
  if (typeof r === "object" && r !== null && "signal" in r && typeof (r as { signal: unknown }).signal === "string") {
    return (r as { signal: string }).signal;
  }
  return null;
}

async function attempt(ctx: AttemptContext): Promise<RunOneOutcome> {
  const { opts, header, task, out, paths, ref, lock, jobId, token, emit, study } = ctx;
  const startedAt = new Date();
  const timeoutMinutes = opts.timeoutMinutes ?? header.run.timeout_minutes;
  const graceSeconds = opts.graceSeconds ?? header.run.grace_seconds;
  const signalGrace = Math.min(graceSeconds, opts.signalGraceSeconds ?? envSeconds("CST_BATCH_SIGNAL_GRACE_SECONDS", 10));
  const csttoolOut = csttoolOutDir(paths.dir);
  const linkDir = linkedSeries(task) ? dicomLinkDir(paths.dir) : null;
  const plainArgv = csttoolArgv(header.csttool.executable, task, paths.dir);
  let argv = plainArgv;
  let bindError: CstError | null = null;
  try {
    if (opts.container) argv = containerArgv(plainArgv, opts.container, taskBindDirs(out, task));
  } catch (e) {
    if (!(e instanceof CstError)) throw e;
    bindError = e; // recorded as this attempt's failure once the attempt has started
  }
  let maxRssKb: number | null = null;

  const identity = (finished: Date): RunIdentity => ({
    ...taskIdentity(header, task),
    started_at: startedAt.toISOString(),
    finished_at: finished.toISOString(),
    duration_seconds: (finished.getTime() - startedAt.getTime()) / 1000,
    host: hostName(),
    pid: process.pid,
    job_id: jobId,
    csttool_argv: argv,
    max_rss_kb: maxRssKb,
  });

  const start: AttemptStart = {
    schema_version: SCHEMA_VERSION,
    kind: "cst-batch-attempt-start",
    subject: task.subject,
    session: task.session,
    task_key: task.key,
    config_hash: task.config_hash,
    plan_id: header.plan_id,
    started_at: startedAt.toISOString(),
    host: hostName(),
    pid: process.pid,
    job_id: jobId,
    pending_category: null,
  };
  try {
    mkdirConfined(out, paths.work);
    writeAttemptStartSync(paths.work, start);
  } catch (e) {
    if (e instanceof CstError) throw e;
    throw new CstError("SYSTEM", `cannot start an attempt in ${paths.work}: ${(e as Error).message}`, {
      cause: e,
      hint: errnoCode(e) === "ENOSPC" ? "the output filesystem is full; free space, then resubmit" : "check the output folder's permissions",
    });
  }

  const fail = async (category: FailureCategory, message: string, r: Partial<SuperviseResult> = {}, nextStep: string | null = null): Promise<RunOneOutcome> => {
    const finished = new Date();
    let logTail = r.logTail ?? (await readLogTail(paths.log));
    if (r.logError) logTail = [...logTail, r.logError];
    let attemptDir: string | null = null;
    let record: AttemptRecord;
    try {
      const target = await failedAttemptDir(paths.out, paths.dir, category, finished);
      record = buildAttemptRecord(target.id, identity(finished), { category, message, exitCode: r.exitCode ?? null, signal: r.signal ?? null, logTail, nextStep, study });
      noteSubjectLog(paths.out, paths.log, failureLines(category, message, record.next_step), finished);
      attemptDir = await archiveWorkDir(paths.work, paths.dir, record, target, paths.log);
      await copyErrorLog(paths);
    } catch (e) {
      // The filesystem refuses even the record (full disk?). Leave `_work` for the next run's
      // recovery, with the category we know, and report the problem.
      const sys = `${message}; additionally, the failure could not be recorded: ${(e as Error).message}`;
      record = buildAttemptRecord(`${fsTimestamp(finished)}_${category}`, identity(finished), {
        category: errnoCode(e) === "ENOSPC" ? "SYSTEM" : category,
        message: sys,
        exitCode: r.exitCode ?? null,
        signal: r.signal ?? null,
        logTail,
        nextStep,
        study,
      });
      try {
        writeAttemptStartSync(paths.work, { ...start, pending_category: record.category });
      } catch {
        // nothing more we can do
      }
    }
    return { kind: "failed", task: ref, category: record.category, record, attemptDir };
  };

  try {
    assertTaskWritable(out, paths);
    if (bindError) throw bindError;
  } catch (e) {
    return fail("SYSTEM", (e as Error).message, { logTail: [(e as Error).message] }, e instanceof CstError ? (e.hint ?? null) : null);
  }

  const logHeader = [
    `# cst-batch ${CST_BATCH_VERSION} run-one: task ${task.index} (${task.key}), attempt started ${startedAt.toISOString()}`,
    `# host ${hostName()}, pid ${process.pid}, job ${jobId ?? "none"}, plan ${header.plan_id}, config ${task.config_hash}`,
    `# argv: ${JSON.stringify(argv)}`,
  ].join("\n");

  const check = await checkInputs(task).catch((e: unknown) => ({
    ok: false as const,
    category: "SYSTEM" as FailureCategory,
    message: `cannot check the inputs: ${(e as Error).message}`,
  }));
  if (!check.ok) {
    await writeLogOnly(out, paths.log, `${logHeader}\n# not started: ${check.message}\n`);
    return fail(check.category, check.message, { logTail: [check.message] });
  }
  if (check.dicomFiles && linkDir !== null) {
    try {
      await linkDicomSeries(out, linkDir, check.dicomFiles);
    } catch (e) {
      const message = `cannot link the DICOM series into ${linkDir}: ${(e as Error).message}`;
      await writeLogOnly(out, paths.log, `${logHeader}\n# not started: ${message}\n`);
      return fail("SYSTEM", message, { logTail: [message] });
    }
  }

  emit({ type: "started", task: ref, argv });
  recordEvent(out, { event: "started", key: task.key, index: task.index, plan_id: header.plan_id, job_id: jobId, argv });
  const oomBefore = readOomKillCount();
  const result = await supervise({
    argv,
    env: opts.env ?? process.env,
    token,
    logFile: paths.log,
    logRoot: out,
    logHeader,
    timeoutMs: timeoutMinutes * 60_000,
    graceMs: graceSeconds * 1000,
    abortGraceMs: signalGrace * 1000,
    ...(opts.signal ? { signal: opts.signal } : {}),
    extraFds: [lock.fd],
    onSpawn: (pgid) => {
      void lock.updateOwner({ child_pgid: pgid }).catch(() => {});
    },
    onStop: (reason, category) => {
      // Record why we stop before waiting for csttool: a scheduler's SIGKILL may follow soon.
      start.pending_category = category;
      try {
        writeAttemptStartSync(paths.work, start);
      } catch {
        // best effort; the recovery then records KILLED
      }
      emit({ type: "stopping", task: ref, reason, category });
    },
  });
  maxRssKb = result.maxRssKb;
  // supervise returns once every process of the run is gone, so local mode's next csttool
  // (started from here) never runs beside this one's leftovers.
  try {
    await opts.onCsttoolExit?.();
  } catch {
    // an observer must not break the run
  }

  const failure = classify(await stoppedWithUs(result, opts.signal), argv[0] ?? "csttool", timeoutMinutes, signalNameOf(opts.signal));
  // A SIGKILL we did not send: say whether the cgroup's OOM counter confirms the out-of-memory killer.
  if (failure?.category === "OUT_OF_MEMORY" && result.signal === "SIGKILL") failure.message += ` (${describeOomEvidence(oomBefore, readOomKillCount())})`;
  if (failure) return fail(failure.category, failure.message, result, failure.nextStep ?? null);
  return promote(ctx, { csttoolOut, identity, result, fail, start });
}

async function writeLogOnly(root: string, file: string, text: string): Promise<void> {
  try {
    mkdirConfined(root, path.dirname(file));
    rmQuietly(file);
    const fd = fs.openSync(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o666);
    try {
      fs.writeSync(fd, text);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // the record carries the message
  }
}

async function promote(
  ctx: AttemptContext,
  p: {
    csttoolOut: string;
    identity: (finished: Date) => RunIdentity;
    result: SuperviseResult;
    fail: (category: FailureCategory, message: string, r?: Partial<SuperviseResult>, nextStep?: string | null) => Promise<RunOneOutcome>;
    start: AttemptStart;
  },
): Promise<RunOneOutcome> {
  const { task, paths, ref, out } = ctx;
  const staged = path.join(paths.work, STAGED_DIR);
  const prefix = task.session ? `${task.subject}_${task.session}` : task.subject;
  let files: { path: string; size: number }[];
  let metricsFile: string | null;
  try {
    await stageOutput(p.csttoolOut, staged, task.subject, task.session);
    files = await listFiles(staged);
    metricsFile = findMetricsFile(files, prefix);
  } catch (e) {
    return p.fail("SYSTEM", `cannot gather csttool's output: ${(e as Error).message}`, p.result);
  }
  if (!metricsFile) {
    const expected = `${task.subject}/${task.session ? `${task.session}/` : ""}reports/*_metrics.json or metrics/*_bilateral_metrics.json`;
    const why = await explainNoMetrics(staged, files, expected, p.result.logTail);
    return p.fail("PIPELINE_FAILED", why.message, p.result, why.nextStep);
  }
  const finished = new Date();
  const done: DoneRecord = {
    schema_version: SCHEMA_VERSION,
    kind: "cst-batch-done",
    ...p.identity(finished),
    exit_code: 0,
    files,
    metrics_file: metricsFile,
  };
  let replaces: string[];
  try {
    replaces = ownedFiles(paths.dir);
    const conflicts = findConflicts(paths.dir, staged, new Set(replaces));
    if (conflicts.length > 0 && !ctx.opts.adoptExisting) {
      const e = new PromotionConflictError(paths.dir, conflicts);
      return p.fail("SYSTEM", `${e.message} (csttool's output is kept with this attempt)`, p.result, conflictNextStep(paths.dir, conflicts));
    }
    replaces.push(...conflicts);
  } catch (e) {
    return p.fail("SYSTEM", `cannot check the subject folder before promoting: ${(e as Error).message}`, p.result);
  }
  let journal: PromoteJournal;
  try {
    journal = { schema_version: SCHEMA_VERSION, kind: "cst-batch-promote", done, entries: fs.readdirSync(staged).sort(), replaces };
    await writeJournal(paths.work, journal);
    pauseForTest("journal-written");
  } catch (e) {
    rmQuietly(path.join(paths.work, "promote.json"));
    return p.fail("SYSTEM", `cannot write the promotion journal: ${(e as Error).message}; nothing was promoted`, p.result);
  }
  try {
    await applyPromotion(out, paths.dir, journal);
  } catch (e) {
    // The journal stays; the next run on this subject finishes the promotion before anything else.
    const message = `promotion interrupted: ${(e as Error).message}; the next run of this subject finishes it`;
    const record = buildAttemptRecord(`${fsTimestamp(finished)}_SYSTEM`, p.identity(finished), {
      category: "SYSTEM",
      message,
      exitCode: 0,
      signal: null,
      logTail: p.result.logTail,
      study: ctx.study,
    });
    return { kind: "failed", task: ref, category: "SYSTEM", record, attemptDir: null };
  }
  rmQuietly(paths.errorLog);
  noteSubjectLog(paths.out, paths.log, [`promoted ${files.length} file(s) into ${paths.dir}; _done.json written`, `outcome: success in ${done.duration_seconds.toFixed(1)} s`]);
  return { kind: "success", task: ref, record: done };
}

/** What to do about foreign files in the way of a result. */
function conflictNextStep(taskDir: string, conflicts: readonly string[]): string {
  const first = path.join(taskDir, conflicts[0] ?? "");
  return `move the file(s) cst-batch did not create out of ${taskDir} (e.g. ${first}), or let cst-batch replace them with --adopt-existing; then run the subject again`;
}

/**
 * The places an attempt writes besides `_work`: no symbolic link planted at any of them (the
 * writes never follow one anyway; this names the link before csttool runs).
 */
function assertTaskWritable(out: string, paths: TaskPaths): void {
  assertRealDirs(out, paths.failed);
  // `_promoted.json` decides what a rerun may replace: a link there is never trusted.
  assertNoLinks(out, [logsDir(out), eventLogPath(out), paths.promoted]);
}
