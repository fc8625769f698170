import fs from "node:fs";
import path from "node:path";
import { CstError, errnoCode } from "../errors.js";
import { taskPaths } from "../layout.js";
import { studyDirOfPlan } from "../study/study-folder.js";
import { type PlanHeader, type PlanTask } from "../schemas/records.js";
import { readDoneState } from "../state/done.js";
import { CORRUPT_SUFFIX } from "../state/damage.js";
import { detectJobId, fsTimestamp } from "./attempt.js";
import { describeOwner } from "../lock/lock.js";
// load-plan.ts, not planner.ts (which re-exports it): keeps discovery/DICOM code off run-one's start-up path.
import { loadPlanTask } from "../plan/load-plan.js";
// The tiny O_APPEND appender, not pino: keeps run-one's start-up light (see src/events/events.ts).
import { recordEvent } from "../events/events.js";
import { pauseForTest } from "../util/test-pause.js";
import { type StudyRef } from "../failures/catalogue.js";
import { lockTask, type TaskLock } from "./task-lock.js";
import { recover } from "./recover.js";
import { attempt } from "./attempt-flow.js";
import type { RunOneEvent, RunOneOutcome, TaskRef } from "./outcome.js";

export { exitCodeFor, worstExitCode, type RunOneEvent, type RunOneOutcome, type TaskRef } from "./outcome.js";
export { lockTask, type TaskLock } from "./task-lock.js";
export { containerArgv, taskBindDirs } from "./container.js";
export { classify } from "./classify.js";

/**
 * Run one plan task: lock the subject folder, recover what an earlier run left, skip when done,
 * check inputs, run csttool under supervision, then promote the result or record the failure.
 */

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
  /**
   * CPUs this task owns: csttool's thread variables (OMP_NUM_THREADS, ...) are set to it unless
   * already set (src/run/thread-env.ts). Default: SLURM_CPUS_PER_TASK / NCPUS / PBS_NUM_PPN.
   */
  cpus?: number | null;
  /** Where `cpus` came from, for the log (default "option"). */
  cpusSource?: "option" | "local-share";
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
