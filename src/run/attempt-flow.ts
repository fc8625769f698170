import { withStopVerdict } from "./stop-context.js";
import fs, { constants as fsConstants } from "node:fs";
import path from "node:path";
import { CstError, errnoCode } from "../errors.js";
import { csttoolOutDir, dicomLinkDir, hostEventLogPath, logsDir, type TaskPaths } from "../layout.js";
import { csttoolArgv, linkedSeries } from "./csttool-argv.js";
import { SCHEMA_VERSION, type AttemptRecord, type AttemptStart, type FailureCategory, type MaxRssSource, type PlanHeader, type PlanTask } from "../schemas/records.js";
import { rmQuietly } from "../util/quiet-fs.js";
import { assertNoLinks, assertRealDirs, mkdirConfined } from "../util/confined-fs.js";
import { CST_BATCH_VERSION } from "../version.js";
import { archiveWorkDir, buildAttemptRecord, failedAttemptDir, fsTimestamp, hostName, taskIdentity, writeAttemptStartSync, type RunIdentity } from "./attempt.js";
import { checkInputs, linkDicomSeries } from "./inputs.js";
import { changedSinceOpened, closeInputs, hashInputs } from "./input-hashes.js";
import { type HeldLock } from "../lock/lock.js";
import { describeOomEvidence, readOomKillCount } from "./oom.js";
import { abortCategory, supervise, type SuperviseResult } from "./supervise.js";
// The tiny O_APPEND appender, not pino: keeps run-one's start-up light (see src/events/events.ts).
import { recordEvent } from "../events/events.js";
import { failureLines, noteSubjectLog, readLogTail } from "../events/subject-log.js";
import { type StudyRef } from "../failures/catalogue.js";
import type { RunOneOptions } from "./run-one.js";
import type { RunOneEvent, RunOneOutcome, TaskRef } from "./outcome.js";
import { containerArgv, taskBindDirs } from "./container.js";
import { copyErrorLog } from "./recover.js";
import { classify, signalNameOf, stoppedWithUs } from "./classify.js";
import { promote } from "./promote-result.js";
import { describeThreadEnv, taskCpus, withThreadLimits } from "./thread-env.js";

/**
 * One attempt of a subject: its start record, the input checks, csttool under supervision, then
 * the failure recorded or the result promoted (promote-result.ts).
 */
export interface AttemptContext {
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

function envSeconds(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

export async function attempt(ctx: AttemptContext): Promise<RunOneOutcome> {
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
  let maxRssSource: MaxRssSource | null = null;

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
    max_rss_source: maxRssSource,
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

  // Whether the subject has failed attempts (none is added while this run holds the lock): into `_done.json`.
  let hadFailedAttempts = true;
  try {
    hadFailedAttempts = assertTaskWritable(out, paths);
    if (bindError) throw bindError;
  } catch (e) {
    return fail("SYSTEM", (e as Error).message, { logTail: [(e as Error).message] }, e instanceof CstError ? (e.hint ?? null) : null);
  }

  if (opts.signal?.aborted) {
    // A local run stopped (cst-batch cancel, Ctrl-C) before this subject's turn: recorded as such, csttool never started.
    const message = "not started: the run was stopped before this subject's turn (cst-batch cancel or a stop signal)";
    await writeLogOnly(out, paths.log, `# cst-batch ${CST_BATCH_VERSION} run-one: task ${task.index} (${task.key}) ${startedAt.toISOString()}\n# ${message}\n`);
    return fail(abortCategory(opts.signal), message, { logTail: [message] });
  }

  const baseEnv = opts.env ?? process.env;
  const cpus = taskCpus(baseEnv, opts.cpus ?? null, opts.cpusSource ?? "option");
  const threads = withThreadLimits(baseEnv, cpus);
  const logHeader = [
    `# cst-batch ${CST_BATCH_VERSION} run-one: task ${task.index} (${task.key}), attempt started ${startedAt.toISOString()}`,
    `# host ${hostName()}, pid ${process.pid}, job ${jobId ?? "none"}, plan ${header.plan_id}, config ${task.config_hash}`,
    `# argv: ${JSON.stringify(argv)}`,
    `# ${describeThreadEnv(cpus, threads)}`,
  ].join("\n");

  const check = await checkInputs(task, { keepOpen: true }).catch((e: unknown) => ({
    ok: false as const,
    category: "SYSTEM" as FailureCategory,
    message: `cannot check the inputs: ${(e as Error).message}`,
  }));
  if (!check.ok) {
    await writeLogOnly(out, paths.log, `${logHeader}\n# not started: ${check.message}\n`);
    return fail(check.category, check.message, { logTail: [check.message] });
  }
  const opened = check.opened;
  try {
    if (check.dicomFiles && linkDir !== null) {
      try {
        await linkDicomSeries(out, linkDir, check.dicomFiles);
      } catch (e) {
        const message = `cannot link the DICOM series into ${linkDir}: ${(e as Error).message}`;
        await writeLogOnly(out, paths.log, `${logHeader}\n# not started: ${message}\n`);
        return fail("SYSTEM", message, { logTail: [message] });
      }
    }
    // The inputs' bytes are hashed from the descriptors the check opened while csttool runs (src/run/input-hashes.ts).
    const hashing = hashInputs(opened);

    emit({ type: "started", task: ref, argv });
    recordEvent(out, { event: "started", key: task.key, index: task.index, plan_id: header.plan_id, job_id: jobId, argv });
    const oomBefore = readOomKillCount();
    const result = await supervise({
      argv,
      env: threads.env,
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
    maxRssSource = result.maxRssSource;
    // supervise returns once every process of the run is gone, so local mode's next csttool
    // (started from here) never runs beside this one's leftovers.
    try {
      await opts.onCsttoolExit?.();
    } catch {
      // an observer must not break the run
    }

    // A plain stop signal (CANCELLED) gives way to what the scheduler says (requeue, walltime), src/run/stop-context.ts.
    const failure = await withStopVerdict(classify(await stoppedWithUs(result, opts.signal), argv[0] ?? "csttool", timeoutMinutes, signalNameOf(opts.signal), study), opts.signal);
    // A SIGKILL we did not send: say whether the cgroup's OOM counter confirms the out-of-memory killer.
    if (failure?.category === "OUT_OF_MEMORY" && result.signal === "SIGKILL") failure.message += ` (${describeOomEvidence(oomBefore, readOomKillCount())})`;
    const hashes = check.seriesHash ? [check.seriesHash] : await hashing;
    if (failure) return fail(failure.category, failure.message, result, failure.nextStep ?? null);
    const changedDuringRun = changedSinceOpened(opened);
    const inputs = changedDuringRun.length > 0 ? { changedDuringRun } : { hashes };
    return await promote(ctx, { csttoolOut, identity, result, fail, start, inputs, hadFailedAttempts });
  } finally {
    closeInputs(opened);
  }
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

/**
 * The places an attempt writes besides `_work`: no symbolic link planted at any of them (the
 * writes never follow one anyway; this names the link before csttool runs).
 */
function assertTaskWritable(out: string, paths: TaskPaths): boolean {
  const hasFailed = assertRealDirs(out, paths.failed);
  // `_promoted.json` decides what a rerun may replace: a link there is never trusted.
  assertNoLinks(out, [logsDir(out), hostEventLogPath(out), paths.promoted]);
  return hasFailed;
}
