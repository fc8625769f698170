import { CstError } from "../errors.js";
import type { LocalStudyEvent, LocalStudyResult } from "../local/run-study.js";
import type { PlanOutcome } from "../plan/planner.js";
import { openPlanRefs } from "../plan/load-plan.js";
import { collectGarbage } from "../util/collect-garbage.js";
import { PLAN_DEFAULTS, type PlanRequest } from "../plan/request.js";
import { loadProfile } from "../profile/profile.js";
import { detectScheduler, type DetectedScheduler } from "../schedulers/detect.js";
import type { SchedulerName } from "../schedulers/types.js";
import type { SubmitFlagValues } from "./settings.js";
import type { SubmitResult } from "./submit.js";

/**
 * `cst-batch submit` as one call: the profile, the scheduler (given, the profile's, or detected),
 * the plan, then the pending tasks run here (local) or submitted as array jobs. Everything that
 * can be checked before planning is (a bad flag or a too short walltime fails in seconds, not
 * after a long discovery).
 */

export const SCHEDULER_CHOICES = ["slurm", "pbs", "torque", "local", "auto", "sge", "lsf"] as const;
export type SchedulerChoice = (typeof SCHEDULER_CHOICES)[number];

export interface StudySubmitRequest {
  /** What to plan (the same request as `plan`). */
  plan: PlanRequest;
  /** Cluster profile: a file, `disabled` for none, else the default location when it exists. */
  profile?: { path?: string | null; disabled?: boolean };
  /** slurm, pbs, torque, local or auto; default the profile's, else auto. */
  scheduler?: string;
  /** Batch settings as given (flags); they override the profile. Ignored (and reported) in local mode. */
  schedulerFlags?: SubmitFlagValues;
  /** The per-subject timeout when the caller gave it explicitly, else null (derived from the walltime). */
  explicitTimeoutMinutes?: number | null;
  /** Local mode: concurrent subjects (default: min(CPU count, available memory ÷ memPerSubjectMiB)). */
  jobs?: number;
  /** Local mode: memory one subject needs, for the default --jobs (MiB; default DEFAULT_MEM_PER_SUBJECT_MIB). */
  memPerSubjectMiB?: number;
  /** Canary size (`--canary K`; 0 off; default DEFAULT_CANARY): see src/failures/canary.ts. */
  canary?: number;
  /** Local mode: rerun subjects that are already done. */
  force?: boolean;
  adoptExisting?: boolean;
  dryRun?: boolean;
  /** Recorded in the submission (`cst-batch submit ...`). */
  commandLine?: string[];
  /** Environment for scheduler commands and detection (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Per scheduler command (default 60 s). */
  commandTimeoutMs?: number;
  /** Local mode: aborting cancels the running subjects (collect still runs). */
  signal?: AbortSignal;
  onEvent?: (event: StudySubmitEvent) => void;
}

type Planned = Extract<PlanOutcome, { kind: "planned" }>;

/** What a caller may show as a submit goes, in order; local runs add runLocalStudy's events. */
export type StudySubmitEvent =
  | { type: "profile"; path: string }
  /** `--scheduler auto` decided (found a scheduler, or none: local). */
  | { type: "scheduler-detected"; detected: Exclude<DetectedScheduler, { kind: "unknown-pbs" }> }
  /** Batch settings given for a local run, which ignores them. */
  | { type: "ignored-in-local-mode"; keys: (keyof SubmitFlagValues)[] }
  | { type: "warning"; message: string }
  /** The plan is written; its warnings and preview are in `outcome`. */
  | { type: "planned"; outcome: Planned }
  | LocalStudyEvent;

export type StudySubmitResult =
  /** Preflight found errors: nothing was written. */
  | Extract<PlanOutcome, { kind: "problems" }>
  | { kind: "local"; planned: Planned; local: LocalStudyResult }
  | { kind: "batch"; planned: Planned; scheduler: SchedulerName; submit: SubmitResult };

/** The scheduler to use: the one asked for (or the profile's), `auto` resolved by what is on PATH. */
async function chooseScheduler(requested: string, req: StudySubmitRequest): Promise<SchedulerName | "local"> {
  if (!(SCHEDULER_CHOICES as readonly string[]).includes(requested)) {
    throw new CstError("USAGE", `--scheduler must be one of ${SCHEDULER_CHOICES.join(", ")}, found ${JSON.stringify(requested)}`);
  }
  if (requested !== "auto") return requested as SchedulerName | "local";
  const found = await detectScheduler(req.env !== undefined ? { env: req.env } : {});
  if (found.kind === "unknown-pbs") {
    throw new CstError("USAGE", `--scheduler auto: qsub is on PATH but PBS Pro and Torque cannot be told apart (${found.evidence})`, {
      hint: "pass --scheduler pbs (PBS Pro / OpenPBS), --scheduler torque or --scheduler sge (Grid Engine)",
    });
  }
  req.onEvent?.({ type: "scheduler-detected", detected: found });
  return found.kind === "found" ? found.scheduler : "local";
}

/** Plan, then run locally or submit to the scheduler; see StudySubmitResult for the outcomes. */
export async function submitStudy(req: StudySubmitRequest): Promise<StudySubmitResult> {
  const emit = (e: StudySubmitEvent): void => req.onEvent?.(e);
  const loaded = await loadProfile({
    explicit: req.profile?.path ?? null,
    disabled: req.profile?.disabled === true,
    ...(req.env !== undefined ? { env: req.env } : {}),
  });
  if (loaded.path) emit({ type: "profile", path: loaded.path });
  const scheduler = await chooseScheduler(req.scheduler ?? loaded.profile.scheduler ?? "auto", req);
  if (req.jobs !== undefined && (!Number.isInteger(req.jobs) || req.jobs < 1)) {
    throw new CstError("USAGE", `--jobs must be a whole number >= 1, found ${String(req.jobs)}`);
  }
  const flags = req.schedulerFlags ?? {};
  const { createPlan } = await import("../plan/planner.js");

  if (scheduler === "local") {
    const ignored = Object.keys(flags) as (keyof SubmitFlagValues)[];
    if (ignored.length > 0) emit({ type: "ignored-in-local-mode", keys: ignored });
    const outcome = await createPlan({ ...req.plan, dryRun: req.dryRun === true });
    if (outcome.kind === "problems") return outcome;
    emit({ type: "planned", outcome });
    const { runLocalStudy } = await import("../local/run-study.js");
    const local = await runLocalStudy({
      plan: await outcome.loadPlan(),
      planPath: outcome.planPath,
        ...(req.jobs !== undefined ? { jobs: req.jobs } : {}),
        ...(req.memPerSubjectMiB !== undefined ? { memPerSubjectMiB: req.memPerSubjectMiB } : {}),
        ...(req.canary !== undefined ? { canary: req.canary } : {}),
        dryRun: req.dryRun === true,
        force: req.force === true,
        adoptExisting: req.adoptExisting === true,
        ...(req.signal !== undefined ? { signal: req.signal } : {}),
        onEvent: emit,
      });
      return { kind: "local", planned: outcome, local };
    }

    // Batch scheduler: every setting is validated before planning, and everything before submitting.
    if (req.force) {
      throw new CstError("USAGE", "--force is for local mode only", {
        hint: "to rerun done subjects on a scheduler, change their configuration or move their _done.json away",
      });
    }
    if (req.jobs !== undefined) emit({ type: "warning", message: "--jobs is for local mode; the array's concurrency is --array-throttle" });
    const [{ resolveSubmitSettings }, { resolveTiming }] = await Promise.all([import("./settings.js"), import("./timing.js")]);
    const settings = resolveSubmitSettings(flags, loaded.profile, req.plan.cwd !== undefined ? { cwd: req.plan.cwd } : {});
    const explicitTimeoutMinutes = req.explicitTimeoutMinutes ?? null;
    const planRequest: PlanRequest = { ...req.plan, container: settings.container, dryRun: req.dryRun === true };
    // Fail fast on a walltime that is too short, before the (possibly long) planning.
    resolveTiming({
      walltimeSeconds: settings.array.timeSeconds,
      explicitTimeoutMinutes,
      planTimeoutMinutes: planRequest.timeoutMinutes ?? PLAN_DEFAULTS.timeoutMinutes,
      graceSeconds: planRequest.graceSeconds ?? PLAN_DEFAULTS.graceSeconds,
      chunkSize: settings.chunkSize,
    });
    const outcome = await createPlan(planRequest);
    if (outcome.kind === "problems") return outcome;
    emit({ type: "planned", outcome });
  // Planning's garbage goes now, before the submit allocates on top of it (see collect-garbage.ts).
  collectGarbage(outcome.plan.task_count);
  const { submitToScheduler } = await import("./submit.js");
  // The header and each task's reference: what a submit reads (not the tasks' inputs and options).
  // A written plan is streamed from its file (200,000 tasks are never held); a dry run's tasks
  // are the planner's (nothing was written to read them from).
  const refs = req.dryRun === true ? null : await openPlanRefs(outcome.planPath, outcome.preview.out_dir);
  try {
    const submit = await submitToScheduler({
      plan: refs === null ? await outcome.loadRefs() : { ...refs.header, forEach: refs.forEach },
      planPath: outcome.planPath,
      scheduler,
      settings,
      explicitTimeoutMinutes,
      commandLine: req.commandLine ?? ["cst-batch", "submit"],
      dryRun: req.dryRun === true,
      adoptExisting: req.adoptExisting === true,
      ...(req.canary !== undefined ? { canary: req.canary } : {}),
      ...(req.env !== undefined ? { env: req.env } : {}),
      ...(req.commandTimeoutMs !== undefined ? { commandTimeoutMs: req.commandTimeoutMs } : {}),
    });
    return { kind: "batch", planned: outcome, scheduler, submit };
  } finally {
    refs?.close();
  }
}
