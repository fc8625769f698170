import os from "node:os";
import { taskPaths } from "../layout.js";
import { studyDirOfPlan } from "../study/study-folder.js";
import type { Plan, PlanTask } from "../schemas/records.js";
import { lockTask, runOne, type RunOneEvent, type RunOneOutcome, type TaskLock } from "../run/run-one.js";
import { canaryVerdict, DEFAULT_CANARY, describeCanaryStop, type CanaryOutcome } from "../failures/canary.js";
import { clearLocalCanaryVerdict, writeLocalCanaryVerdict } from "../run/canary-file.js";

export interface LocalRunOptions {
  /** The immutable plan file the tasks come from (recorded in every `_done.json`). */
  planFile: string;
  plan: Plan;
  /** Plan indices to run, in this order. */
  indices: number[];
  /** Concurrent workers; default: CPU count. */
  jobs?: number;
  force?: boolean;
  /** Results may replace files in subject folders that cst-batch did not create. */
  adoptExisting?: boolean;
  timeoutMinutes?: number;
  graceSeconds?: number;
  /** Aborting stops taking new tasks and cancels running ones (they are recorded as CANCELLED). */
  signal?: AbortSignal;
  onProgress?: (progress: LocalProgress) => void;
  /** Canary size K: stop starting subjects when the first K to finish all failed with a SYSTEM problem (0: off; default DEFAULT_CANARY). */
  canary?: number;
  /** CPUs each task owns, for csttool's thread variables (default: cores ÷ jobs). */
  cpusPerTask?: number | null;
  /** What a run found and repaired before it started (a damaged `_done.json` moved aside, an interrupted attempt filed away). */
  onRecovered?: (event: Extract<RunOneEvent, { type: "recovered" }>) => void;
}

/** A task a worker has taken from the queue, with its lock when taken ahead. */
interface Claimed {
  task: PlanTask;
  lock: TaskLock | null;
}

interface TaskHooks {
  /** csttool of this task has been started. */
  onStarted?: (() => void) | undefined;
  /** csttool of this task has exited and its run is gone; a promise holds back its promotion (see workFrom). */
  onCsttoolExit: () => Promise<void> | undefined;
}

export type LocalTaskResult = { index: number; key: string; outcome: RunOneOutcome; durationMs: number };

export interface LocalProgress {
  total: number;
  succeeded: number;
  skipped: number;
  failed: number;
  busy: number;
  running: string[];
  left: number;
  elapsedMs: number;
  /** Estimated time to finish, from the mean duration of tasks that really ran; null until one has. */
  etaMs: number | null;
  last: LocalTaskResult | null;
}

export interface LocalRunResult {
  results: LocalTaskResult[];
  interrupted: boolean;
  progress: LocalProgress;
  /** Set when the canary stopped the run: the subjects not started (not failures) and why. */
  canaryStop: { first: CanaryOutcome[]; notRun: string[]; message: string; nextStep: string } | null;
}

export function defaultJobs(): number {
  return Math.max(1, typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length);
}

/** Run plan tasks on this machine with a pool of workers, through the same run-one logic as an array task. */
export async function runLocal(opts: LocalRunOptions): Promise<LocalRunResult> {
  const jobs = Math.max(1, Math.floor(opts.jobs ?? defaultJobs()));
  const tasks = opts.indices.map((i) => {
    const task = opts.plan.tasks[i];
    if (!task) throw new RangeError(`plan has no task ${i}`);
    return task;
  });
  const started = Date.now();
  const running = new Set<string>();
  const results: LocalTaskResult[] = [];
  let next = 0;
  let ranMs = 0;
  let ranCount = 0;
  const counts = { succeeded: 0, skipped: 0, failed: 0, busy: 0 };

  const progress = (last: LocalTaskResult | null): LocalProgress => {
    const finished = counts.succeeded + counts.skipped + counts.failed + counts.busy;
    const left = tasks.length - finished - running.size;
    const meanMs = ranCount > 0 ? ranMs / ranCount : null;
    return {
      total: tasks.length,
      ...counts,
      running: [...running],
      left,
      elapsedMs: Date.now() - started,
      etaMs: meanMs === null ? null : Math.round((meanMs * (left + running.size)) / jobs),
      last,
    };
  };

  const out = studyDirOfPlan(opts.planFile, opts.plan);
  // A new run decides afresh: the previous local run's verdict (for status) no longer holds.
  clearLocalCanaryVerdict(out);
  const canaryK = opts.canary ?? DEFAULT_CANARY;
  const finishedOrder: CanaryOutcome[] = [];
  const canaryStopped = (): boolean => canaryVerdict(finishedOrder, canaryK).kind === "stop";
  const cores = defaultJobs();
  const cpusPerTask = opts.cpusPerTask !== undefined ? opts.cpusPerTask : Math.max(1, Math.floor(cores / jobs));
  const claim = (): Claimed | null => {
    if (canaryStopped()) return null;
    const task = tasks[next++];
    return task ? { task, lock: null } : null;
  };

  const runTask = async (claimed: Claimed, hooks: TaskHooks): Promise<void> => {
    const { task } = claimed;
    running.add(task.key);
    opts.onProgress?.(progress(null));
    const t0 = Date.now();
    let outcome: RunOneOutcome;
    try {
      outcome = await runOne({
        planFile: opts.planFile,
        index: task.index,
        loaded: { header: opts.plan, task },
        studyDir: out,
        force: opts.force,
        adoptExisting: opts.adoptExisting,
        signal: opts.signal,
        timeoutMinutes: opts.timeoutMinutes,
        graceSeconds: opts.graceSeconds,
        jobId: null,
        cpus: cpusPerTask,
        cpusSource: "local-share",
        ...(claimed.lock ? { lock: claimed.lock } : {}),
        onCsttoolExit: hooks.onCsttoolExit,
        onEvent: (e) => {
          if (e.type === "started") hooks.onStarted?.();
          else if (e.type === "recovered") opts.onRecovered?.(e);
        },
      });
    } finally {
      running.delete(task.key);
    }
    const result: LocalTaskResult = { index: task.index, key: task.key, outcome, durationMs: Date.now() - t0 };
    results.push(result);
    if (outcome.kind === "success") finishedOrder.push({ key: task.key, category: null, message: null });
    else if (outcome.kind === "failed") finishedOrder.push({ key: task.key, category: outcome.category, message: outcome.record.message });
    switch (outcome.kind) {
      case "success":
        counts.succeeded++;
        break;
      case "skipped":
        counts.skipped++;
        break;
      case "busy":
        counts.busy++;
        break;
      case "failed":
        counts.failed++;
        break;
    }
    if (outcome.kind === "success" || outcome.kind === "failed") {
      ranMs += result.durationMs;
      ranCount++;
    }
    opts.onProgress?.(progress(result));
  };

  /**
   * A worker runs its tasks one after another, from `first` on. Once csttool of a task has
   * exited and nothing of its run is left, the worker takes its next task (lock, checks) and
   * starts that csttool before it promotes the finished output, so the promotion (renames,
   * fsyncs) overlaps the next run instead of delaying it: at most one csttool per worker runs at
   * any time, while for a moment two of its tasks are in progress (one promoting, one running).
   * The next task's chain then carries on; a task that ends before csttool (done, busy, inputs
   * gone) is followed here.
   * `handedOver` is called once `first` has started csttool or has ended.
   */
  const workFrom = async (first: Claimed, handedOver?: () => void): Promise<void> => {
    let claimed: Claimed | null = first;
    let onStarted = handedOver;
    while (claimed) {
      let following: Promise<void> | null = null;
      try {
        await runTask(claimed, {
          onStarted,
          onCsttoolExit: () => {
            if (opts.signal?.aborted) return undefined;
            // Once a SYSTEM failure has been seen (or K is 1) and the canary is still undecided,
            // this subject's outcome may be the K-th: take the next task only once it is classified
            // (after runTask), not overlapped. Before any outcome, overlap as usual (K >= 2 needs
            // the next subject anyway).
            const canary = canaryVerdict(finishedOrder, canaryK);
            if (canary.kind === "undecided" && (canary.seen > 0 || canaryK === 1)) return undefined;
            const next = claim();
            if (!next) return undefined;
            next.lock = lockTask(taskPaths(out, next.task), null);
            let resolve!: () => void;
            const nextStarted = new Promise<void>((r) => (resolve = r));
            following = workFrom(next, resolve);
            return nextStarted;
          },
        });
      } finally {
        onStarted?.();
        onStarted = undefined;
        if (following) await following;
      }
      if (following) return;
      claimed = opts.signal?.aborted ? null : claim();
    }
  };
  const worker = async (): Promise<void> => {
    const first = opts.signal?.aborted ? null : claim();
    if (first) await workFrom(first);
  };
  await Promise.all(Array.from({ length: Math.min(jobs, Math.max(1, tasks.length)) }, worker));
  if (opts.signal?.aborted && next < tasks.length) {
    // Stopped (cst-batch cancel, Ctrl-C): the subjects not started yet are recorded CANCELLED
    // through run-one (their lock, record and log; csttool is never started), so status shows
    // them and `resubmit --category CANCELLED` reruns them. Done ones stay skipped.
    const left = tasks.slice(next);
    next = tasks.length;
    let at = 0;
    const recordNotStarted = async (): Promise<void> => {
      for (let task = left[at++]; task !== undefined; task = left[at++]) await runTask({ task, lock: null }, { onCsttoolExit: () => undefined });
    };
    await Promise.all(Array.from({ length: Math.min(jobs, left.length) }, recordNotStarted));
  }
  results.sort((a, b) => a.index - b.index);
  const verdict = canaryVerdict(finishedOrder, canaryK);
  let canaryStop: LocalRunResult["canaryStop"] = null;
  if (verdict.kind === "stop") {
    const notRun = tasks.slice(next).map((t) => t.key);
    if (notRun.length > 0) canaryStop = { first: verdict.first, notRun, ...describeCanaryStop(verdict.first, notRun.length, out) };
    if (canaryStop) writeLocalCanaryVerdict(out, canaryStop);
  }
  return { results, interrupted: Boolean(opts.signal?.aborted), progress: progress(null), canaryStop };
}
