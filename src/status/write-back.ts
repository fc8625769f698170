import { constants as fsConstants, promises as fsp } from "node:fs";
import path from "node:path";
import { ATTEMPT_FILE, taskPaths } from "../layout.js";
import { archiveWorkDir, buildAttemptRecord, failedAttemptDir, hostName, taskIdentity, type RunIdentity } from "../run/attempt.js";
import { nextStepFor, type StudyRef } from "../failures/catalogue.js";
import { CORRECTABLE_CATEGORIES } from "../failures/scheduler-verdict.js";
import { acquireLock } from "../lock/lock.js";
import { csttoolArgv } from "../run/csttool-argv.js";
import { AttemptRecordSchema, AttemptStartSchema, DoneRecordSchema, type AttemptRecord, type PlanHeader, type PlanTask } from "../schemas/records.js";
import { writeJsonAtomic } from "../util/atomic-write.js";
import type { TaskSchedulerState } from "../schedulers/types.js";
import { mkdirConfined } from "../util/confined-fs.js";
import { rmQuietly } from "../util/quiet-fs.js";
import { randomHex } from "../util/random-hex.js";
import { readStateFile } from "../util/read-json.js";
import type { WriteBack } from "./derive.js";
import { timeOf } from "../util/time.js";
import { readLogTail } from "../events/subject-log.js";

/**
 * Writing the scheduler's verdict into a subject folder, so that collect's summary and CSV carry
 * it. Rules:
 *   - only under the subject's lock (taken without waiting; busy = someone runs it: skipped);
 *   - the folder is read again under the lock, and nothing is written when a record newer than
 *     the submission (or from the same job element) appeared meanwhile, or the subject is done;
 *   - idempotent: a "scheduler" record carries the element's job id; a second pass finds it and
 *     writes nothing; a refined record is no longer KILLED/recovery, so it is not refined twice;
 *   - `_work/` with a promotion journal is left alone (run-one must finish that promotion).
 */
export type WriteBackOutcome =
  /** `category`: null for a peak-memory write-back (the category is unchanged). */
  | { kind: "written"; path: string; category: string | null }
  | { kind: "skipped"; reason: "busy" | "already-recorded" | "done" | "promotion-pending" | "changed" | "unsupported" };

/** Apply one write-back for a task; see the rules above. */
export async function applyWriteBack(out: string, header: Pick<PlanHeader, "plan_id" | "csttool">, task: PlanTask, wb: WriteBack, now: Date = new Date()): Promise<WriteBackOutcome> {
  const paths = taskPaths(out, task);
  mkdirConfined(out, paths.dir);
  const got = await acquireLock(paths.lock, {
    pid: process.pid,
    host: hostName(),
    job_id: null,
    since: now.toISOString(),
    token: randomHex(16),
    child_pgid: null,
  });
  if (got.kind === "busy") return { kind: "skipped", reason: "busy" };
  if (got.kind === "unsupported") return { kind: "skipped", reason: "unsupported" };
  try {
    if (wb.kind === "peak") return await recordSchedulerPeak(paths, wb);
    const done = await readStateFile(paths.done, DoneRecordSchema);
    if (done.kind === "ok" && done.value.config_hash === task.config_hash) return { kind: "skipped", reason: "done" };
    switch (wb.kind) {
      case "record":
        return await writeSchedulerRecord(paths, header, task, wb, now, done.kind === "ok" ? done.value : null);
      case "archive-work":
        return await archiveWithVerdict(paths, header, task, wb, now);
      case "refine":
        return await refineRecord(paths, wb);
      default:
        return { kind: "skipped", reason: "unsupported" };
    }
  } finally {
    await got.lock.release();
  }
}

async function readAttempts(failedDir: string): Promise<AttemptRecord[]> {
  let names: string[] = [];
  try {
    names = await fsp.readdir(failedDir);
  } catch {
    return [];
  }
  const out: AttemptRecord[] = [];
  for (const n of names) {
    const r = await readStateFile(path.join(failedDir, n, ATTEMPT_FILE), AttemptRecordSchema);
    if (r.kind === "ok") out.push(r.value);
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

/** `taskDir`: the subject folder where the study is now (csttool's argv is built for it). */
function identityFor(header: Pick<PlanHeader, "plan_id" | "csttool">, task: PlanTask, taskDir: string, wb: WriteBack, now: Date, startedAt: string | null): RunIdentity {
  const elapsed = wb.sched.elapsedSeconds;
  const started = startedAt ?? new Date(now.getTime() - (elapsed ?? 0) * 1000).toISOString();
  return {
    ...taskIdentity(header, task),
    started_at: started,
    finished_at: now.toISOString(),
    duration_seconds: elapsed ?? Math.max(0, (now.getTime() - timeOf(started)) / 1000),
    host: wb.sched.node ?? "unknown",
    pid: 0,
    job_id: wb.elementId,
    csttool_argv: csttoolArgv(header.csttool.executable, task, taskDir),
    max_rss_kb: wb.sched.maxRssKb,
    max_rss_source: wb.sched.maxRssKb === null ? null : (wb.sched.peakSource ?? "sacct"),
  };
}

async function writeSchedulerRecord(
  paths: ReturnType<typeof taskPaths>,
  header: Pick<PlanHeader, "plan_id" | "csttool">,
  task: PlanTask,
  wb: Extract<WriteBack, { kind: "record" }>,
  now: Date,
  done: { finished_at: string; job_id: string | null } | null,
): Promise<WriteBackOutcome> {
  if (await exists(paths.work)) return { kind: "skipped", reason: "changed" };
  const since = timeOf(wb.submissionCreatedAt);
  const records: Array<{ finished_at: string; job_id: string | null }> = await readAttempts(paths.failed);
  if (done) records.push(done);
  if (records.some((r) => r.job_id === wb.elementId)) return { kind: "skipped", reason: "already-recorded" };
  if (records.some((r) => timeOf(r.finished_at) >= since)) return { kind: "skipped", reason: "changed" };
  const target = await failedAttemptDir(paths.out, paths.dir, wb.category, now);
  const record = buildAttemptRecord(target.id, identityFor(header, task, paths.dir, wb, now, null), {
    category: wb.category,
    message: wb.message,
    exitCode: wb.sched.exitCode,
    signal: wb.sched.signal !== null ? String(wb.sched.signal) : null,
    logTail: await readLogTail(paths.log),
    recordedBy: "scheduler",
    study: schedulerStudy(paths.out, task.key),
  });
  mkdirConfined(paths.out, target.dir);
  await writeJsonAtomic(path.join(target.dir, ATTEMPT_FILE), record, { root: paths.out });
  return { kind: "written", path: target.dir, category: wb.category };
}

async function archiveWithVerdict(
  paths: ReturnType<typeof taskPaths>,
  header: Pick<PlanHeader, "plan_id" | "csttool">,
  task: PlanTask,
  wb: Extract<WriteBack, { kind: "archive-work" }>,
  now: Date,
): Promise<WriteBackOutcome> {
  if (await exists(path.join(paths.work, "promote.json"))) return { kind: "skipped", reason: "promotion-pending" };
  const start = await readStateFile(path.join(paths.work, ATTEMPT_FILE), AttemptStartSchema);
  if (start.kind !== "ok" || start.value.job_id !== wb.elementId) return { kind: "skipped", reason: "changed" };
  const s = start.value;
  const identity = { ...identityFor(header, task, paths.dir, wb, now, s.started_at), config_hash: s.config_hash, plan_id: s.plan_id, host: s.host, pid: s.pid };
  const target = await failedAttemptDir(paths.out, paths.dir, wb.category, now);
  const pending = s.pending_category;
  const record = buildAttemptRecord(target.id, identity, {
    category: wb.category,
    message: wb.message,
    exitCode: wb.sched.exitCode,
    signal: wb.sched.signal !== null ? String(wb.sched.signal) : null,
    logTail: await readLogTail(paths.log),
    recordedBy: "scheduler",
    study: schedulerStudy(paths.out, task.key),
    // run-one was stopping for a reason it saw (a signal) when it died: kept beside the verdict.
    observed:
      pending && pending !== wb.category
        ? { category: pending, message: `run-one was stopping (${pending}) when it ended without a record`, recorded_by: "run-one", exit_code: null, signal: null, next_step: nextStepFor(pending, schedulerStudy(paths.out, task.key)) }
        : null,
  });
  await archiveWorkDir(paths.work, paths.dir, record, target, paths.log);
  try {
    mkdirConfined(paths.out, path.dirname(paths.errorLog));
    rmQuietly(paths.errorLog);
    await fsp.copyFile(paths.log, paths.errorLog, fsConstants.COPYFILE_EXCL);
  } catch {
    // no log, or no place for its copy: the record holds the tail
  }
  return { kind: "written", path: target.dir, category: wb.category };
}

async function refineRecord(paths: ReturnType<typeof taskPaths>, wb: Extract<WriteBack, { kind: "refine" }>): Promise<WriteBackOutcome> {
  const dir = path.join(paths.failed, wb.attemptId);
  const file = path.join(dir, ATTEMPT_FILE);
  const r = await readStateFile(file, AttemptRecordSchema);
  // Only a record run-one wrote from what it saw (CANCELLED/KILLED), never one already corrected.
  if (r.kind !== "ok" || r.value.recorded_by === "scheduler" || !CORRECTABLE_CATEGORIES.has(r.value.category)) return { kind: "skipped", reason: "already-recorded" };
  const own = r.value;
  const newId = await freeName(paths.failed, wb.attemptId.replace(new RegExp(`_${own.category}(-\\d+)?$`), "") + `_${wb.category}`);
  const refined: AttemptRecord = {
    ...own,
    attempt_id: newId,
    category: wb.category,
    message: wb.message,
    next_step: nextStepFor(wb.category, schedulerStudy(paths.out, own.task_key)),
    recorded_by: "scheduler",
    ...largerPeak(own, wb.sched),
    observed: { category: own.category, message: own.message, recorded_by: own.recorded_by === "recovery" ? "recovery" : "run-one", exit_code: own.exit_code, signal: own.signal, next_step: own.next_step },
  };
  await writeJsonAtomic(file, refined, { root: paths.out });
  const target = path.join(paths.failed, newId);
  await fsp.rename(dir, target).catch(() => {});
  return { kind: "written", path: target, category: wb.category };
}

/**
 * run-one's peak, or the scheduler's peak of the same run when that is larger (its source: `sacct`, `qstat`, `qacct`, `bjobs`;
 * run-one's own figure kept in `max_rss_own`).
 */
function largerPeak(own: { max_rss_kb: number | null; max_rss_source: AttemptRecord["max_rss_source"]; max_rss_own?: AttemptRecord["max_rss_own"] }, sched: TaskSchedulerState): Pick<AttemptRecord, "max_rss_kb" | "max_rss_source" | "max_rss_own"> {
  const schedKb = sched.maxRssKb;
  if (schedKb === null || (own.max_rss_kb !== null && schedKb <= own.max_rss_kb)) return { max_rss_kb: own.max_rss_kb, max_rss_source: own.max_rss_source, max_rss_own: own.max_rss_own };
  return { max_rss_kb: schedKb, max_rss_source: sched.peakSource ?? "sacct", max_rss_own: own.max_rss_kb === null ? undefined : { kb: own.max_rss_kb, source: own.max_rss_source } };
}

/**
 * The scheduler's larger MaxRSS into the record of the run it measured (`_done.json` or one
 * attempt record), read again under the lock: only while that record still names the element
 * and holds a smaller figure.
 */
async function recordSchedulerPeak(paths: ReturnType<typeof taskPaths>, wb: Extract<WriteBack, { kind: "peak" }>): Promise<WriteBackOutcome> {
  const file = wb.record === "done" ? paths.done : path.join(paths.failed, wb.record.attemptId, ATTEMPT_FILE);
  const r = wb.record === "done" ? await readStateFile(file, DoneRecordSchema) : await readStateFile(file, AttemptRecordSchema);
  if (r.kind !== "ok" || r.value.job_id !== wb.elementId) return { kind: "skipped", reason: "changed" };
  const own = r.value;
  if (own.max_rss_kb !== null && own.max_rss_kb >= wb.sched.maxRssKb) return { kind: "skipped", reason: "already-recorded" };
  await writeJsonAtomic(file, { ...own, ...largerPeak(own, wb.sched) }, { root: paths.out });
  return { kind: "written", path: path.dirname(file), category: null };
}

/** The study of a verdict the scheduler gave: rerun with `resubmit`, this subject only. */
function schedulerStudy(out: string, key: string): StudyRef {
  return { out, local: false, subjects: [key] };
}

async function freeName(parent: string, base: string): Promise<string> {
  for (let n = 0; ; n++) {
    const id = n === 0 ? base : `${base}-${n}`;
    if (!(await exists(path.join(parent, id)))) return id;
  }
}



/**
 * Free a subject whose lock is held only by orphans of a dead run-one on this host: taking the
 * lock SIGKILLs them (their run token / process group, as run-one does before it starts), then
 * it is released. Nothing is recorded here: the next run-one files the left `_work/` as usual.
 */
export async function breakStaleLock(out: string, task: PlanTask): Promise<"freed" | "busy" | "unsupported"> {
  const paths = taskPaths(out, task);
  const got = await acquireLock(paths.lock, {
    pid: process.pid,
    host: hostName(),
    job_id: null,
    since: new Date().toISOString(),
    token: randomHex(16),
    child_pgid: null,
  });
  if (got.kind !== "acquired") return got.kind;
  await got.lock.release();
  return "freed";
}
