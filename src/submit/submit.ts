// Over ~350 lines: submit is one flow (prepare, shard and lane, render, submit, record, roll back on failure) whose
// steps share the prepared submission; the pieces that stand alone live beside it (chunks, throttle-lanes, in-flight, roll-back).
import { existsSync, promises as fsp } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { CstError } from "../errors.js";
import { canaryDir, logsDir, submissionChunksPath, submissionsDir } from "../layout.js";
import { DEFAULT_CANARY } from "../failures/canary.js";
import { getBackend } from "../schedulers/index.js";
import { resolveMaxArraySize, type MaxArraySizeSource } from "../schedulers/max-array-size.js";
import { runSchedulerCommand, type RunCommandOptions } from "../schedulers/runner.js";
import { formatArgv, shellQuote } from "../shell/shell-quote.js";
import { describeFailure, rollBack } from "./roll-back.js";

export { formatArgv };
import type { ArrayScriptContext, CollectScriptContext, SchedulerName } from "../schedulers/types.js";
import { SCHEMA_VERSION } from "../schemas/records.js";
import type { PlanHeader } from "../schemas/plan.js";
import { studyDirOfPlan } from "../study/study-folder.js";
import type { Submission } from "../schemas/study-records.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { encodeSubmissionChunks } from "../state/submission-chunks.js";
import { mkdirConfined } from "../util/confined-fs.js";
import { PACKAGE_ROOT } from "../version.js";
import { layoutArrays } from "./chunks.js";
import { SubmissionRecordText } from "./record-text.js";
import { findInFlight } from "./in-flight.js";
import { planThrottleLanes } from "./throttle-lanes.js";
import { RUNNING_KEYS, selectPending, type PendingSelection, type PlanTaskSource } from "./pending.js";
import type { SubmitSettings } from "./settings.js";
import { resolveTiming, type Timing } from "./timing.js";

/**
 * `submit` for a batch scheduler: plan (done by the caller) -> pending tasks -> chunks -> shards
 * -> render -> write scripts and the record -> submit the arrays, then collect with an after-any
 * dependency on every shard -> record the job ids.
 *
 * Partial-submit policy (all or nothing): if any submit command fails, the jobs this submit
 * already created are cancelled with the backend's cancel command and the record is moved out
 * of `submissions/` (to `submissions/<id>/submit-failed.json`), so no record claims a job that
 * does not exist and rerunning the same command is safe. If the cancel itself fails, the record
 * stays in place holding exactly the job ids that were submitted (they exist), and the error
 * says so. The record is written before the first submit (array tasks read it) with every job
 * id null, and updated after each successful submit.
 */

export interface SubmitRequest {
  /**
   * The plan's header and its tasks' references: a list (a whole Plan will do), or a stream of
   * them in plan order (`forEach`; a large plan read from its file without holding its tasks).
   */
  plan: PlanHeader & PlanTaskSource;
  /** The immutable plan file `plans/<plan_id>.json`. */
  planPath: string;
  scheduler: SchedulerName;
  settings: SubmitSettings;
  /** `--timeout-minutes` when given explicitly (flag or caller), else null. */
  explicitTimeoutMinutes: number | null;
  /** Recorded as is (`cst-batch submit ...`). */
  commandLine: string[];
  dryRun?: boolean;
  /** Canary size for the array tasks (recorded in the submission; default DEFAULT_CANARY, 0 off). */
  canary?: number;
  /** Environment for the scheduler commands (default process.env); tests put fake sbatch on PATH. */
  env?: NodeJS.ProcessEnv;
  /** Per scheduler command (default 60 s). */
  commandTimeoutMs?: number;
  now?: () => Date;
  /** Default: this process's node and the package's bin/cst-batch.js. */
  nodeExecutable?: string;
  entryScript?: string;
  /** run-one may replace files in subject folders that cst-batch did not create. */
  adoptExisting?: boolean;
}

export interface RenderedScript {
  /** `array-0`, ..., `collect`. */
  name: string;
  path: string;
  text: string;
  submitArgv: string[];
}

export interface SubmitPreparation {
  outDir: string;
  submission: Submission;
  recordPath: string;
  scriptsDir: string;
  logDir: string;
  scripts: RenderedScript[];
  selection: PendingSelection;
  timing: Timing;
  maxArraySize: { value: number; source: MaxArraySizeSource; note: string | null };
  notes: string[];
  warnings: string[];
}

export type SubmitResult =
  | { kind: "nothing-to-do"; selection: PendingSelection; timing: Timing; notes: string[]; warnings: string[] }
  | ({ kind: "dry-run" } & SubmitPreparation)
  | ({ kind: "submitted"; watch: string[] } & SubmitPreparation);

export const SCHEDULER_LOG_SUBDIR = "scheduler";

/** `20261121-052642-a1b2`: sortable by time, unique enough for one output folder. */
export function newSubmissionId(now: Date): string {
  const iso = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "");
  return `${iso.slice(0, 8)}-${iso.slice(9, 15)}-${randomBytes(2).toString("hex")}`;
}

/** Compute everything a submit needs (timing, pending tasks, shards, rendered scripts); writes nothing. */
export async function prepareSubmit(req: SubmitRequest): Promise<SubmitPreparation | { kind: "nothing-to-do"; selection: PendingSelection; timing: Timing; notes: string[]; warnings: string[] }> {
  const { plan, settings, scheduler } = req;
  const backend = getBackend(scheduler);
  const timing = resolveTiming({
    walltimeSeconds: settings.array.timeSeconds,
    explicitTimeoutMinutes: req.explicitTimeoutMinutes,
    planTimeoutMinutes: plan.run.timeout_minutes,
    graceSeconds: plan.run.grace_seconds,
    chunkSize: settings.chunkSize,
  });
  const notes = [...timing.notes];
  const warnings = [...settings.warnings, ...timing.warnings];

  // The study is where the plan file is now (see src/study/study-folder.ts), not the plan's out_dir.
  const out = studyDirOfPlan(req.planPath, plan);
  const selection = await selectPending(plan, out);
  if (selection.running.length > 0) {
    notes.push(`${selection.running.length} task(s) are running right now (lock held) and are not resubmitted: ${selection.runningKeys.join(", ")}${selection.running.length > RUNNING_KEYS ? ", ..." : ""}`);
  }
  if (selection.done.length > 0) notes.push(`${selection.done.length} task(s) already done (same configuration) are not resubmitted`);
  for (const p of selection.problems.slice(0, 10)) warnings.push(`damaged state file: ${p}`);
  if (selection.pending.length === 0) return { kind: "nothing-to-do", selection, timing, notes, warnings };

  const runOpts = runOptions(req, out);
  const maxArraySize = await resolveMaxArraySize(scheduler, settings.maxArraySize, runOpts);
  if (maxArraySize.note) warnings.push(maxArraySize.note);
  const layout = layoutArrays(selection.pending, settings.chunkSize, maxArraySize.value);
  if (layout.shards.length > 1) {
    notes.push(`${layout.chunks.length} array elements exceed the array size limit ${maxArraySize.value} (${maxArraySize.source}): split into ${layout.shards.length} array jobs; collect waits for all of them`);
  }

  const lanes = planThrottleLanes(layout.shards, settings.throttle);
  // A throttle holds for the study: this submission waits for the study's arrays still in the queue.
  const inFlight = settings.throttle === null ? { jobIds: [], command: null, warning: null } : await findInFlight(out, scheduler, runOpts);
  if (inFlight.warning) warnings.push(inFlight.warning);
  const sgeNote = sgeMemoryWarning(req.scheduler, settings.array);
  if (sgeNote) warnings.push(sgeNote);
  if (inFlight.jobIds.length > 0) {
    notes.push(`--array-throttle ${settings.throttle} holds for the whole study: this submission starts after the study's arrays still in the queue end (job ${inFlight.jobIds.join(", ")})`);
  }
  if (settings.throttle !== null && layout.shards.length > 1) {
    const nLanes = new Set(lanes.map((l) => l.lane)).size;
    notes.push(`--array-throttle ${settings.throttle} holds across the ${layout.shards.length} array jobs: ${nLanes} lane(s) of ${lanes.slice(0, nLanes).map((l) => l.throttle).join(" + ")} at once${nLanes < layout.shards.length ? "; the arrays of a lane run one after another" : ""}`);
  }

  const now = (req.now ?? (() => new Date()))();
  const id = newSubmissionId(now);
  const recordPath = path.join(submissionsDir(out), `${id}.json`);
  const scriptsDir = path.join(submissionsDir(out), id);
  const logDir = path.join(logsDir(out), SCHEDULER_LOG_SUBDIR);
  const base = {
    logDir,
    workDir: out,
    outDir: out,
    schedulerArgs: settings.schedulerArgs,
    setupLines: settings.setupLines,
    nodeExecutable: req.nodeExecutable ?? process.execPath,
    entryScript: req.entryScript ?? path.join(PACKAGE_ROOT, "bin", "cst-batch.js"),
    submissionFile: recordPath,
    lsfUnitForLimits: settings.lsfUnitForLimits ?? null,
  };
  const renderOpts = settings.templateDir ? { templateDir: settings.templateDir } : {};
  const scripts: RenderedScript[] = [];
  const placeholders = layout.shards.map((_, s) => placeholderId(s));
  const shardDeps: string[][] = [];
  layout.shards.forEach((shard, s) => {
    const ctx: ArrayScriptContext = {
      ...base,
      jobName: settings.jobName,
      resources: { ...settings.array, timeSeconds: timing.walltimeSeconds },
      arraySize: shard.count,
      throttle: lanes[s]!.throttle,
      throttleNote: throttleNote(settings.throttle, lanes, s, inFlight.jobIds),
      chunkOffset: shard.first_chunk,
      timeoutMinutes: timing.timeoutMinutes,
      signalWarningSeconds: timing.warningSeconds,
      container: settings.container,
      adoptExisting: req.adoptExisting === true,
    };
    const scriptPath = path.join(scriptsDir, `array-${s}.sh`);
    const dependsOn = shardDependencies(s, lanes, placeholders, inFlight.jobIds);
    scripts.push({ name: `array-${s}`, path: scriptPath, text: backend.renderArrayScript(ctx, renderOpts), submitArgv: backend.submitArgv(scriptPath, { dependsOn, dependsOnArrays: true }) });
    shardDeps.push(dependsOn);
  });
  const collectCtx: CollectScriptContext = { ...base, jobName: settings.collectJobName, resources: settings.collect };
  const collectPath = path.join(scriptsDir, "collect.sh");
  const collectScript: RenderedScript = {
    name: "collect",
    path: collectPath,
    text: backend.renderCollectScript(collectCtx, renderOpts),
    submitArgv: backend.submitArgv(collectPath, { dependsOn: placeholders, dependsOnArrays: true }),
  };
  scripts.push(collectScript);

  const submission: Submission = {
    schema_version: SCHEMA_VERSION,
    kind: "cst-batch-submission",
    submission_id: id,
    created_at: now.toISOString(),
    scheduler,
    plan_id: plan.plan_id,
    plan_path: req.planPath,
    command_line: req.commandLine,
    chunks: layout.chunks,
    ...(req.canary !== undefined ? { canary: req.canary } : {}),
    shards: layout.shards.map((shard, s) => ({
      shard: s,
      first_chunk: shard.first_chunk,
      count: shard.count,
      job_id: null,
      script: scripts[s]!.path,
      submit_argv: scripts[s]!.submitArgv,
      throttle: lanes[s]!.throttle,
      lane: lanes[s]!.lane,
      depends_on: shardDeps[s]!,
    })),
    collect: { job_id: null, script: collectPath, submit_argv: collectScript.submitArgv },
    resources: {
      array: resourceRecord({ ...settings.array, timeSeconds: timing.walltimeSeconds }),
      collect: resourceRecord(settings.collect),
      timeout_minutes: timing.timeoutMinutes,
      timeout_source: timing.timeoutSource,
      walltime_source: timing.walltimeSource,
      timing_formula: timing.formula,
      signal_warning_seconds: timing.warningSeconds,
      grace_seconds: plan.run.grace_seconds,
      chunk_size: settings.chunkSize,
      array_throttle: settings.throttle,
      /** The throttle bounds the study (all shards, and earlier arrays still in flight): see src/submit/throttle-lanes.ts. */
      array_throttle_scope: settings.throttle === null ? null : "study",
      array_throttle_waits_for: inFlight.jobIds,
      max_array_size: maxArraySize.value,
      max_array_size_source: maxArraySize.source,
      job_name: settings.jobName,
      setup: settings.setupLines,
      scheduler_args: settings.schedulerArgs,
      container: settings.container,
      template_dir: settings.templateDir,
      lsf_unit_for_limits: settings.lsfUnitForLimits ?? null,
      log_dir: logDir,
      tasks: { pending: selection.pending.length, done: selection.done.length, running: selection.running.length },
      sources: settings.sources,
    },
    dry_run: req.dryRun === true,
  };
  return { outDir: out, submission, recordPath, scriptsDir, logDir, scripts, selection, timing, maxArraySize, notes, warnings };
}

/** The script's comment on its share of the study-wide throttle (null when it is simply `%N` of one array). */
function throttleNote(throttle: number | null, lanes: ReturnType<typeof planThrottleLanes>, s: number, inFlight: string[]): string | null {
  const lane = lanes[s]!;
  if (throttle === null || lane.lane === null) return null;
  if (lanes.length === 1 && inFlight.length === 0) return null;
  const nLanes = new Set(lanes.map((l) => l.lane)).size;
  const waits = lane.after !== null ? `; starts after array-${lane.after} ends` : inFlight.length > 0 ? `; starts after the study's earlier arrays still queued end (${inFlight.join(", ")})` : "";
  return `--array-throttle ${throttle} holds for the whole study: this array runs at most ${lane.throttle} at once (lane ${lane.lane + 1} of ${nLanes})${waits}`;
}

/** Stands for a shard's job id until it is submitted (dry runs show it). */
function placeholderId(shard: number): string {
  return `<job id of array-${shard}>`;
}
function placeholderShard(id: string): number | null {
  const m = /^<job id of array-(\d+)>$/.exec(id);
  return m ? Number(m[1]) : null;
}

/** What shard `s` waits for: its lane's previous shard; the first shard of a lane, the study's arrays in flight. */
function shardDependencies(s: number, lanes: ReturnType<typeof planThrottleLanes>, placeholders: string[], inFlight: string[]): string[] {
  const lane = lanes[s]!;
  if (lane.after !== null) return [placeholders[lane.after]!];
  return lane.lane === null ? [] : [...inFlight];
}

function resourceRecord(r: { timeSeconds: number; memMiB: number; cpus: number; partition: string | null; account: string | null; qos: string | null; gres: string | null; memoryResource?: string | null; parallelEnvironment?: string | null }): Record<string, unknown> {
  const sge = { ...(r.memoryResource ? { sge_memory_resource: r.memoryResource } : {}), ...(r.parallelEnvironment ? { sge_pe: r.parallelEnvironment } : {}) };
  return { time_seconds: r.timeSeconds, mem_mib: r.memMiB, cpus: r.cpus, partition: r.partition, account: r.account, qos: r.qos, gres: r.gres, ...sge };
}

function runOptions(req: SubmitRequest, out: string): RunCommandOptions {
  return {
    ...(req.env !== undefined ? { env: req.env } : {}),
    ...(req.commandTimeoutMs !== undefined ? { timeoutMs: req.commandTimeoutMs } : {}),
    // A dry run on a new --out has no folder yet: its queries (scontrol show config, qconf -sconf,
    // the in-flight check) run from here instead of failing as if the command were missing.
    ...(existsSync(out) ? { cwd: out } : {}),
  };
}

/** Plan -> scripts -> scheduler. Throws CstError("SCHEDULER") when a submit command fails (see the policy above). */
export async function submitToScheduler(req: SubmitRequest): Promise<SubmitResult> {
  const prep = await prepareSubmit(req);
  if ("kind" in prep) return prep;
  if (req.dryRun) return { kind: "dry-run", ...prep };

  const backend = getBackend(req.scheduler);
  const runOpts = runOptions(req, prep.outDir);
  const out = prep.outDir;
  // Slurm fails every task whose log folder is missing: create it before anything is submitted.
  try {
    mkdirConfined(out, prep.logDir);
    mkdirConfined(out, prep.scriptsDir);
    for (const s of prep.scripts) {
      await writeFileAtomic(s.path, s.text, { root: out });
      await fsp.chmod(s.path, 0o755);
    }
  } catch (e) {
    if (e instanceof CstError) throw e;
    throw new CstError("SYSTEM", `cannot write the job scripts into ${prep.scriptsDir}: ${(e as Error).message}`, { cause: e, hint: "check --out: permissions, free space" });
  }
  const submission = prep.submission;
  mkdirConfined(out, path.dirname(prep.recordPath));
  // The canary's folder, made once here: its first K tasks then write their slots without a mkdir each.
  if ((submission.canary ?? DEFAULT_CANARY) > 0) mkdirConfined(out, canaryDir(out, submission.submission_id));
  // Before the record: an array element that finds the record finds its chunk index too.
  const recordText = new SubmissionRecordText();
  await writeFileAtomic(submissionChunksPath(prep.recordPath), encodeSubmissionChunks(submission.submission_id, submission.plan_path, submission.chunks, submission.canary ?? undefined), { root: out });
  await writeFileAtomic(prep.recordPath, recordText.pieces(submission), { root: out });

  const submitted: string[] = [];
  const submitOne = async (argv: string[], what: string): Promise<string> => {
    const outcome = await runSchedulerCommand(argv, runOpts);
    const failure = describeFailure(outcome, argv, backend);
    if (failure === null && outcome.kind === "ok") {
      try {
        return backend.parseJobId(outcome.stdout);
      } catch (e) {
        throw await rollBack(prep, backend, submitted, runOpts, what, argv, {
          message: `${argv[0]} printed no job id`,
          details: [`stdout: ${JSON.stringify(outcome.stdout.slice(0, 1000))}`, `stderr: ${JSON.stringify(outcome.stderr.slice(0, 1000))}`],
          mayHaveSubmitted: true,
          cause: e,
        });
      }
    }
    throw await rollBack(prep, backend, submitted, runOpts, what, argv, failure!);
  };

  // Placeholders (`<job id of array-0>`) are replaced by the real ids as they become known, in the
  // record and in the scripts returned, so everything printed after submit names real jobs.
  const real = (ids: string[]): string[] => ids.map((id) => { const s = placeholderShard(id); return s === null ? id : (submission.shards[s]!.job_id ?? id); });
  for (const [s, shard] of submission.shards.entries()) {
    shard.depends_on = real(shard.depends_on ?? []);
    shard.submit_argv = backend.submitArgv(shard.script, { dependsOn: shard.depends_on, dependsOnArrays: true });
    prep.scripts[s]!.submitArgv = shard.submit_argv;
    const jobId = await submitOne(shard.submit_argv, `array ${s + 1} of ${submission.shards.length}`);
    submitted.push(jobId);
    shard.job_id = jobId;
    await writeFileAtomic(prep.recordPath, recordText.pieces(submission), { root: out });
  }
  const collectArgv = backend.submitArgv(submission.collect!.script, { dependsOn: submitted, dependsOnArrays: true });
  submission.collect!.submit_argv = collectArgv;
  prep.scripts[prep.scripts.length - 1]!.submitArgv = collectArgv;
  const collectId = await submitOne(collectArgv, "the collect job");
  submitted.push(collectId);
  submission.collect!.job_id = collectId;
  await writeFileAtomic(prep.recordPath, recordText.pieces(submission), { root: out });

  return { kind: "submitted", ...prep, submission, watch: watchCommands(req.scheduler, submitted, prep.outDir) };
}

/** Grid Engine's h_vmem is a per-slot limit on virtual memory: say what was asked for, and how. */
function sgeMemoryWarning(scheduler: SchedulerName, r: { memMiB: number; cpus: number; memoryResource?: string | null }): string | null {
  if (scheduler !== "sge" || r.memoryResource !== "h_vmem") return null;
  const perSlot = Math.ceil(r.memMiB / r.cpus);
  return `Grid Engine h_vmem is a per-slot limit on virtual memory: each task asks for h_vmem=${perSlot}M${r.cpus > 1 ? ` x ${r.cpus} slots` : ""} (--mem ${r.memMiB}M in all); Node and Python reserve more virtual than resident memory, so leave headroom`;
}

/** Commands to follow the jobs. */
export function watchCommands(scheduler: SchedulerName, jobIds: string[], out: string): string[] {
  const status = `cst-batch status --out ${shellQuote(out)}`;
  switch (scheduler) {
    case "slurm":
      return [`squeue -j ${jobIds.join(",")}`, `sacct -X -j ${jobIds.join(",")}`, status];
    case "pbs":
      return [`qstat -t ${jobIds.map(shellQuote).join(" ")}`, `qstat -x -t ${jobIds.map(shellQuote).join(" ")}`, status];
    case "torque":
      return [`qstat -t ${jobIds.map(shellQuote).join(" ")}`, status];
    case "sge":
      return [`qstat -j ${jobIds.join(",")}`, `qacct -j ${jobIds[0] ?? ""}`, status];
    case "lsf":
      return [`bjobs -A ${jobIds.join(" ")}`, `bjobs -a ${jobIds.join(" ")}`, status];
  }
}
