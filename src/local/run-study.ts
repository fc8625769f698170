import { collect, type CollectResult } from "../collect/index.js";
import { recordEvent } from "../events/events.js";
import { taskPaths } from "../layout.js";
import { csttoolArgv } from "../run/csttool-argv.js";
import type { Plan } from "../schemas/records.js";
import { studyDirOfPlan } from "../study/study-folder.js";
import { runLocal, type LocalProgress, type LocalRunResult } from "./run-local.js";
import { defaultLocalJobs, describeJobsDefault } from "./default-jobs.js";
import { selectLocalRun } from "./select.js";

/** `submit --scheduler local` after planning: which tasks, how many workers, what to do. */
export interface LocalStudyRequest {
  plan: Plan;
  /** The immutable plan file (`plans/<plan_id>.json`). */
  planPath: string;
  /** Concurrent workers; default: min(CPU count, available memory ÷ memPerSubjectMiB) (default-jobs.ts). */
  jobs?: number;
  /** Memory one subject needs (MiB), for the default `jobs`. */
  memPerSubjectMiB?: number;
  /** Canary size K (0: off): see src/failures/canary.ts. */
  canary?: number;
  /** Say what would run; run nothing. */
  dryRun?: boolean;
  /** Rerun tasks that are already done. */
  force?: boolean;
  adoptExisting?: boolean;
  timeoutMinutes?: number;
  graceSeconds?: number;
  /** Aborting stops taking new tasks and cancels running ones (recorded as CANCELLED); collect still runs. */
  signal?: AbortSignal;
  onEvent?: (event: LocalStudyEvent) => void;
}

/** What a caller may show while a local study runs, in this order. */
export type LocalStudyEvent =
  /** The tasks to run are chosen (damaged state files found meanwhile in `problems`). */
  | { type: "selected"; indices: number[]; problems: string[]; jobs: number; total: number; jobsBasis: string | null }
  /** The worker pool starts (not in a dry run). */
  | { type: "pool-started"; indices: number[]; jobs: number; total: number }
  | { type: "progress"; progress: LocalProgress }
  /** Every worker has stopped; collect comes next. */
  | { type: "pool-finished" };

/** A repair a run made before it started (a damaged `_done.json` moved aside, an interrupted attempt filed away). */
export interface RecoveredTask {
  key: string;
  what: string;
  message: string;
}

/** A task a dry run would start, with the csttool command it would run. */
export interface DryRunTask {
  key: string;
  argv: string[];
}

export type LocalStudyResult =
  | { kind: "dry-run"; jobs: number; indices: number[]; problems: string[]; planPath: string; tasks: DryRunTask[]; total: number }
  | { kind: "ran"; jobs: number; indices: number[]; problems: string[]; run: LocalRunResult; recovered: RecoveredTask[]; collected: CollectResult };

/**
 * Local mode's whole run: choose the pending tasks, run them here with a worker pool (the same
 * run-one as an array task), then collect the study, whatever the outcome (also after an abort).
 */
export async function runLocalStudy(req: LocalStudyRequest): Promise<LocalStudyResult> {
  const study = studyDirOfPlan(req.planPath, req.plan);
  const { indices, problems } = await selectLocalRun(req.plan, study, req.force ?? false);
  const auto = req.jobs === undefined ? defaultLocalJobs(req.memPerSubjectMiB) : null;
  const jobs = req.jobs ?? auto!.jobs;
  req.onEvent?.({ type: "selected", indices, problems, jobs, total: req.plan.tasks.length, jobsBasis: auto ? describeJobsDefault(auto) : null });
  if (req.dryRun) {
    const tasks = indices.map((i): DryRunTask => {
      const task = req.plan.tasks[i]!;
      return { key: task.key, argv: csttoolArgv(req.plan.csttool.executable, task, taskPaths(study, task).dir) };
    });
    return { kind: "dry-run", jobs, indices, problems, planPath: req.planPath, tasks, total: req.plan.tasks.length };
  }

  req.onEvent?.({ type: "pool-started", indices, jobs, total: req.plan.tasks.length });
  recordEvent(study, { event: "submitted", scheduler: "local", plan_id: req.plan.plan_id, tasks: indices.length, job_ids: [], jobs });
  const recovered: RecoveredTask[] = [];
  let run: LocalRunResult;
  try {
    run = await runLocal({
      planFile: req.planPath,
      plan: req.plan,
      indices,
      jobs,
      force: req.force,
      adoptExisting: req.adoptExisting,
      timeoutMinutes: req.timeoutMinutes,
      graceSeconds: req.graceSeconds,
      ...(req.canary !== undefined ? { canary: req.canary } : {}),
      signal: req.signal,
      onProgress: (progress) => req.onEvent?.({ type: "progress", progress }),
      onRecovered: (e) => recovered.push({ key: e.task.key, what: e.what, message: e.message }),
    });
  } finally {
    req.onEvent?.({ type: "pool-finished" });
  }
  const collected = await collect(study);
  return { kind: "ran", jobs, indices, problems, run, recovered, collected };
}
