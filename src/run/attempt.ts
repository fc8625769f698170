import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { rmQuietly } from "../util/quiet-fs.js";
import { randomHex } from "../util/random-hex.js";
import { ATTEMPT_FILE, DONE_FILE, FAILED_DIR } from "../layout.js";
import { SCHEMA_VERSION, type AttemptRecord, type AttemptStart, type FailureCategory, type PlanHeader, type PlanTask } from "../schemas/records.js";
import { CST_BATCH_VERSION } from "../version.js";
import { writeJsonAtomicSync } from "../util/atomic-write.js";
import { mkdirConfined } from "../util/confined-fs.js";
import { nextStepFor, type StudyRef } from "../failures/catalogue.js";

/** Attempt records: what happened, what to do next, and where the evidence goes. */

/** The job id of the scheduler task we run in, if any. */
export function detectJobId(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID) return `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  if (env.SLURM_JOB_ID) return env.SLURM_JOB_ID;
  // Grid Engine: tasks count from 1, element ids from the plan's 0 (`12_0` is task 1 of job 12).
  if (env.JOB_ID && env.SGE_TASK_ID !== undefined && /^\d+$/.test(env.SGE_TASK_ID)) return `${env.JOB_ID}_${Number(env.SGE_TASK_ID) - 1}`;
  if (env.JOB_ID && env.SGE_TASK_ID !== undefined) return env.JOB_ID;
  if (env.PBS_JOBID) return env.PBS_JOBID;
  // LSF: element LSB_JOBINDEX (from 1) of job LSB_JOBID is named `<job>_<index - 1>` like a Slurm element (see src/schedulers/lsf.ts).
  if (env.LSB_JOBID && env.LSB_JOBINDEX && /^[1-9]\d*$/.test(env.LSB_JOBINDEX)) return `${env.LSB_JOBID}_${Number(env.LSB_JOBINDEX) - 1}`;
  if (env.LSB_JOBID) return env.LSB_JOBID;
  return null;
}

export function hostName(): string {
  return os.hostname();
}

/** `2026-11-21T06-19-21-187Z`: UTC, milliseconds, no colons (safe on every filesystem). */
export function fsTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, "-");
}

/**
 * Write the attempt start record synchronously (used from a signal handler: must land now).
 * Atomic (temp file + rename) but not fsynced: it tells a later run or status about a run that
 * was killed while its machine stayed up (the page cache keeps it). After a machine crash the
 * recovery files the leftover `_work/` as KILLED with or without it.
 */
export function writeAttemptStartSync(workDir: string, start: AttemptStart): void {
  const file = path.join(workDir, ATTEMPT_FILE);
  const tmp = path.join(workDir, `.${ATTEMPT_FILE}.${randomHex(4)}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o666);
  try {
    try {
      fs.writeSync(fd, JSON.stringify(start, null, 2) + "\n");
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    // e.g. ENOSPC: leave no half-written temp file behind
    rmQuietly(tmp);
    throw e;
  }
}

export interface FailedAttemptInput {
  category: FailureCategory;
  message: string;
  exitCode: number | null;
  signal: string | null;
  logTail: string[];
  recordedBy?: AttemptRecord["recorded_by"];
  /** run-one's own record when the scheduler's verdict replaced its category (write-back). */
  observed?: AttemptRecord["observed"];
  /** A next step more precise than the category's (e.g. `csttool doctor`). */
  nextStep?: string | null;
  /** The study the record is in: the category's next step names a command that works there. */
  study: StudyRef;
}

export type RunIdentity = Omit<
  AttemptRecord,
  "schema_version" | "kind" | "attempt_id" | "category" | "exit_code" | "signal" | "message" | "next_step" | "log_tail" | "recorded_by" | "observed"
>;

/** The identity fields a record takes from the plan: which task, and what planned it. */
export function taskIdentity(
  header: Pick<PlanHeader, "plan_id" | "csttool">,
  task: Pick<PlanTask, "subject" | "session" | "key" | "config_hash">,
): Pick<RunIdentity, "subject" | "session" | "task_key" | "config_hash" | "plan_id" | "csttool_version" | "cst_batch_version"> {
  return {
    subject: task.subject,
    session: task.session,
    task_key: task.key,
    config_hash: task.config_hash,
    plan_id: header.plan_id,
    csttool_version: header.csttool.version,
    cst_batch_version: CST_BATCH_VERSION,
  };
}

export function buildAttemptRecord(attemptId: string, identity: RunIdentity, f: FailedAttemptInput): AttemptRecord {
  return {
    schema_version: SCHEMA_VERSION,
    kind: "cst-batch-attempt",
    attempt_id: attemptId,
    ...identity,
    category: f.category,
    exit_code: f.exitCode,
    signal: f.signal,
    message: f.message,
    next_step: f.nextStep ?? nextStepFor(f.category, f.study),
    log_tail: f.logTail,
    recorded_by: f.recordedBy ?? "run-one",
    observed: f.observed ?? null,
  };
}

/** `had_failed_attempts: false` in the subject's `_done.json` becomes true (any other record is left alone). */
function markDoneHasFailedAttempts(root: string, taskDir: string): void {
  const file = path.join(taskDir, DONE_FILE);
  let record: unknown;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return; // none, or a link (never trusted): status looks for `_failed_attempts/` anyway
  }
  try {
    record = JSON.parse(fs.readFileSync(fd, "utf8"));
  } catch {
    return; // damaged: status looks for `_failed_attempts/` anyway
  } finally {
    fs.closeSync(fd);
  }
  if (typeof record !== "object" || record === null || (record as { had_failed_attempts?: unknown }).had_failed_attempts !== false) return;
  writeJsonAtomicSync(file, { ...record, had_failed_attempts: true }, { root });
}

/**
 * A fresh `_failed_attempts/<ts>_<CATEGORY>` path (suffixed if that name is taken). Every writer
 * of a new failed attempt comes here (run-one, its recovery, status's scheduler write-back), under
 * the subject's lock: a `_done.json` that says "no failed attempts" is turned to say there are
 * first, so status (which then skips looking for `_failed_attempts/`) never misses one.
 */
export async function failedAttemptDir(root: string, taskDir: string, category: FailureCategory, at: Date = new Date()): Promise<{ dir: string; id: string }> {
  const parent = path.join(taskDir, FAILED_DIR);
  markDoneHasFailedAttempts(root, taskDir);
  mkdirConfined(root, parent);
  const base = `${fsTimestamp(at)}_${category}`;
  for (let n = 0; ; n++) {
    const id = n === 0 ? base : `${base}-${n}`;
    const dir = path.join(parent, id);
    if (!fs.existsSync(dir)) return { dir, id };
  }
}

/**
 * Move a work folder into `_failed_attempts/` with its attempt record (written first, inside
 * the work folder, so the record travels with the evidence in one rename).
 */
export async function archiveWorkDir(
  workDir: string,
  taskDir: string,
  record: AttemptRecord,
  target: { dir: string; id: string },
  logFile: string | null,
): Promise<string> {
  writeJsonAtomicSync(path.join(workDir, ATTEMPT_FILE), record);
  if (logFile) {
    try {
      fs.copyFileSync(logFile, path.join(workDir, "csttool.log"));
    } catch {
      // no log yet (failed before csttool started): the record holds the message
    }
  }
  fs.renameSync(workDir, target.dir);
  void taskDir;
  return target.dir;
}
