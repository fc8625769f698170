import type { Command } from "commander";
import { SUBMIT_SCHEDULERS, choiceOption } from "../completion-values.js";
import { CstError, EXIT } from "../../errors.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { formatArgv } from "../../shell/shell-quote.js";
import type { LocalStudyEvent } from "../../local/run-study.js";
import type { StudySubmitEvent } from "../../submit/submit-study.js";
import type { SubmitResult } from "../../submit/submit.js";
import { addPlanFlags, parseNumberFlag, planRequestFromFlags } from "../plan-flags.js";
import { localConsole, printLocalResult } from "../local-submit.js";
import { BATCH_ONLY_FLAGS, addSchedulerFlags, schedulerFlagValues } from "../scheduler-flags.js";
import { color, out } from "../output.js";
import { nextAfterSubmit, printNext } from "../next-command.js";
import { reportSettings, settingsJson, studySettingsFor } from "../settings-flags.js";
import type { ResolvedSettings } from "../../study/settings.js";
import { reportPlanProblems, reportPlanned } from "./plan.js";
import type { SetExit } from "./set-exit.js";
import { parseMemory } from "../../schedulers/memory.js";

function parseMemMiB(flag: string, value: string): number {
  return parseMemory(value, flag);
}

/** `--canary K`: a whole number >= 0 (0 turns the canary off). */
function parseCanary(value: string): number {
  if (!/^\d+$/.test(value.trim())) {
    throw new CstError("USAGE", `--canary must be a whole number >= 0, found ${JSON.stringify(value)}`, { hint: "give e.g. --canary 3, or --canary 0 to turn the canary off" });
  }
  return Number(value);
}

const HELP_AFTER = `
Examples:
  $ cst-batch submit --scheduler slurm --bids-dir /data/study --out /scratch/study-cst \\
      --time 3h --mem 8G --partition short --array-throttle 50 --setup 'module load csttool/0.5'
  $ cst-batch submit --bids-dir /data/study --out results --profile ~/cluster.json --dry-run
  $ cst-batch submit --scheduler pbs --manifest study.jsonc --out results --time 2h --queue workq
  $ cst-batch submit --scheduler slurm --bids-dir /data/study --out results --time 8h --chunk-size 4 \\
      --container /images/csttool-0.5.sif --csttool-version 0.5.0
  $ cst-batch submit --scheduler local --bids-dir /data/study --out results --jobs 4

--scheduler auto (the default unless the profile names one): sbatch on PATH -> slurm; qsub ->
PBS Pro, Torque or Grid Engine by \`qstat --version\`; bsub/lsid -> lsf (IBM Spectrum LSF); none -> local
(it says so).

Only pending subjects become array tasks: no _done.json with the same configuration and not
running right now (lock held). Resubmitting after a partial run reruns only the failed and
never-run subjects; each submission has its own chunk list (<out>/.cst-batch/submissions/<id>.json)
pointing at the immutable plan, so running arrays are never renumbered.

Time limits: the walltime (--time) covers one array task = --chunk-size subjects. The
per-subject csttool timeout handed to run-one is derived from it:
    T = (W - S - K*(G + P)) / K
W walltime, K chunk size, G --grace-seconds, P 15 s to write the records, S the warning window
(5% of W, 30 s..5 min; Slurm sends USR1 S seconds before the limit and run-one records TIMEOUT).
Without --time: W = K*(T + G + P) + S with T = --timeout-minutes (default 120). Giving both uses
your --timeout-minutes and warns when it does not fit. A too short --time is an error.

The collect job (15m, 2G, 1 CPU unless --collect-*) runs after every array task, whatever the
outcome (afterany), and writes batch_summary.json / batch_metrics.csv.

Cluster profile: JSON with keys scheduler, time, mem, cpus, partition|queue, account, qos, gres,
array_throttle, max_array_size, chunk_size, job_name, setup[], scheduler_args[], container,
container_runtime, template_dir, collect{time,mem,cpus,partition,account,qos,gres},
sge_memory_resource, sge_pe (Grid Engine), lsf_unit_for_limits (LSF: the site's LSF_UNIT_FOR_LIMITS)
(examples/profiles/). Flags override it; list flags (--setup, --scheduler-arg) replace its lists.

Scheduler failures (submit command missing, failing, printing no job id, not answering in 60 s):
the jobs this submit already created are cancelled and no submission is recorded, so rerunning
is safe.

${exitCodesHelp([EXIT.OK, EXIT.USAGE, EXIT.PREFLIGHT, EXIT.SUBJECT_FAILED, EXIT.SYSTEM, EXIT.INTERRUPTED])}`;

/** `cst-batch submit`: plan, then run the pending tasks (local) or submit them as array jobs. */
export function registerSubmitCommand(program: Command, setExit: SetExit): void {
  const cmd = program
    .command("submit")
    .description("plan the study, then run it: array jobs on Slurm/PBS/Torque/Grid Engine/LSF, or a local worker pool")
    .addOption(choiceOption("--scheduler <name>", "slurm, pbs (PBS Pro/OpenPBS), torque, sge (Grid Engine), lsf (IBM Spectrum LSF), local, or auto (default: the profile's, else auto)", SUBMIT_SCHEDULERS))
    .option("--jobs <n>", "local mode: concurrent subjects (default: min(CPU count, available memory ÷ --mem-per-subject), printed at start)")
    .option("--mem-per-subject <size>", "local mode: memory one csttool needs, for the default --jobs (e.g. 3G; default 2G)")
    .option("--canary <k>", "stop starting subjects when the first K to finish all failed with a SYSTEM problem (default 3; 0 turns it off)")
    .option("--force", "local mode: rerun subjects that are already done")
    .option("--adopt-existing", "let results replace files in subject folders that cst-batch did not create (default: such a subject stops and names them)")
    .option("--dry-run", "show what would run, the rendered scripts and the exact submit commands; submit nothing");
  addPlanFlags(cmd);
  addSchedulerFlags(cmd);
  cmd.addHelpText("after", HELP_AFTER);
  cmd.action(async (typed: Record<string, unknown>) => {
    const { opts, settings } = studySettingsFor(cmd, typed);
    const typedKeys = new Set(Object.keys(typed).filter((k) => cmd.getOptionValueSource(k) === "cli"));
    const json = opts.json === true;
    const dryRun = opts.dryRun === true;
    const jobs = opts.jobs === undefined ? undefined : parseNumberFlag("--jobs", opts.jobs);
    const memPerSubjectMiB = opts.memPerSubject === undefined ? undefined : parseMemMiB("--mem-per-subject", String(opts.memPerSubject));
    const canary = opts.canary === undefined ? undefined : parseCanary(String(opts.canary));
    const timeoutGiven = cmd.getOptionValueSource("timeoutMinutes") === "cli" || settings?.settings.timeout_minutes !== undefined;
    const explicitTimeout = timeoutGiven ? parseNumberFlag("--timeout-minutes", opts.timeoutMinutes) : null;
    const timeoutEnv = Number(process.env.CST_BATCH_SCHEDULER_TIMEOUT_SECONDS);
    const { submitStudy } = await import("../../submit/submit-study.js");
    const local = localConsole(json);
    let result: Awaited<ReturnType<typeof submitStudy>>;
    try {
      result = await submitStudy({
        plan: { ...planRequestFromFlags(opts), studySettings: settings },
        profile: { path: typeof opts.profile === "string" ? opts.profile : null, disabled: opts.profile === false },
        ...(opts.scheduler !== undefined ? { scheduler: String(opts.scheduler) } : {}),
        schedulerFlags: schedulerFlagValues(opts),
        explicitTimeoutMinutes: explicitTimeout,
        ...(jobs !== undefined ? { jobs } : {}),
        ...(memPerSubjectMiB !== undefined ? { memPerSubjectMiB } : {}),
        ...(canary !== undefined ? { canary } : {}),
        force: Boolean(opts.force),
        adoptExisting: Boolean(opts.adoptExisting),
        dryRun,
        commandLine: ["cst-batch", ...process.argv.slice(2)],
        ...(Number.isFinite(timeoutEnv) && timeoutEnv > 0 ? { commandTimeoutMs: timeoutEnv * 1000 } : {}),
        signal: local.signal,
        onEvent: (e) => printEvent(e, json, local.onEvent, settings, typedKeys),
      });
    } finally {
      local.close();
    }
    if (result.kind === "problems") {
      setExit(await reportPlanProblems(result, json));
      return;
    }
    const study = result.planned.preview.out_dir;
    const next = nextAfterSubmit(result.kind === "local" ? (result.local.kind === "dry-run" ? "dry-run" : "ran") : result.submit.kind, study);
    // The plan's warnings (skipped subjects, a filter glob matching no subject) are in every --json outcome.
    const extra = { settings: settingsJson(settings, !dryRun), next, plan_warnings: result.planned.preview.warnings };
    if (result.kind === "local") setExit(printLocalResult(result.local, json, extra));
    else {
      printResult(result.submit, json, extra);
      setExit(EXIT.OK);
    }
    if (!json) printNext(next);
  });
}

/** What submit says as it goes: profile, detected scheduler, ignored flags, the plan, local progress. */
function printEvent(e: StudySubmitEvent, json: boolean, localEvent: (e: LocalStudyEvent) => void, settings: ResolvedSettings | null, typed: ReadonlySet<string>): void {
  switch (e.type) {
    case "profile":
      if (!json) out.info(`profile: ${e.path}`);
      return;
    case "scheduler-detected":
      if (e.detected.kind === "found") out.info(`--scheduler auto: using ${e.detected.scheduler} (${e.detected.evidence})`);
      else out.info(`--scheduler auto: no sbatch, qsub or bsub on PATH, running locally on this machine (${e.detected.evidence})`);
      return;
    case "ignored-in-local-mode": {
      // Only flags typed now: recorded batch settings stay for the study's cluster runs, unsaid.
      const given = BATCH_ONLY_FLAGS.filter(([key]) => e.keys.includes(key) && typed.has(key)).map(([, flag]) => flag);
      if (given.length > 0) out.warn(`ignored in local mode: ${given.join(", ")}`);
      return;
    }
    case "warning":
      out.warn(e.message);
      return;
    case "planned":
      reportPlanned(e.outcome, json);
      if (!json) reportSettings(settings, e.outcome.preview.written);
      return;
    default:
      localEvent(e);
  }
}

/** Human output on stderr (scripts of a dry run on stdout), or one JSON document on stdout. */
function printResult(result: SubmitResult, json: boolean, extra: Record<string, unknown>): void {
  const warnings = result.warnings;
  if (json) {
    if (result.kind === "nothing-to-do") {
      out.json({ ...extra, kind: result.kind, done: result.selection.done.length, running: result.selection.running.length, notes: result.notes, warnings, problems: result.selection.problems });
      return;
    }
    out.json({
      ...extra,
      kind: result.kind,
      scheduler: result.submission.scheduler,
      submission_id: result.submission.submission_id,
      record: result.kind === "submitted" ? result.recordPath : null,
      job_ids: result.kind === "submitted" ? result.submission.shards.map((s) => s.job_id) : [],
      collect_job_id: result.kind === "submitted" ? (result.submission.collect?.job_id ?? null) : null,
      tasks: result.selection.pending.length,
      array_elements: result.submission.chunks.length,
      timeout_minutes: result.timing.timeoutMinutes,
      walltime_seconds: result.timing.walltimeSeconds,
      scripts: result.scripts.map((s) => ({ name: s.name, path: s.path, submit_argv: s.submitArgv, ...(result.kind === "dry-run" ? { text: s.text } : {}) })),
      watch: result.kind === "submitted" ? result.watch : [],
      submission: result.submission,
      notes: result.notes,
      warnings,
      problems: result.selection.problems,
    });
    return;
  }
  for (const w of warnings) out.warn(w);
  for (const n of result.notes) out.info(n);
  if (result.kind === "nothing-to-do") {
    out.info(`nothing to submit: ${result.selection.done.length} task(s) done, ${result.selection.running.length} running elsewhere`);
    return;
  }
  const { submission } = result;
  const elements = submission.chunks.length;
  const summary = `${result.selection.pending.length} task(s) in ${elements} array element(s)${submission.shards.length > 1 ? ` over ${submission.shards.length} array jobs` : ""}, walltime ${result.timing.walltimeSeconds} s per element, csttool timeout ${result.timing.timeoutMinutes} min per subject`;
  if (result.kind === "dry-run") {
    out.info(`${color("1", "dry run")}: would submit ${summary}. Nothing was submitted or recorded.`);
    for (const s of result.scripts) {
      out.data(`# ===== ${s.name}: ${s.path}\n${s.text}`);
    }
    out.data("# ===== submit commands (in this order; log folder created first):");
    out.data(`mkdir -p ${formatArgv([result.logDir])}`);
    for (const s of result.scripts) out.data(formatArgv(s.submitArgv));
    return;
  }
  out.info(`${color("1", "submitted")} ${summary}`);
  for (const s of submission.shards) out.info(`  array ${s.shard}: job ${s.job_id} (${s.count} element(s), chunks ${s.first_chunk}..${s.first_chunk + s.count - 1})`);
  out.info(`  collect: job ${submission.collect?.job_id} (after all of the above)`);
  out.info(`record: ${result.recordPath}`);
  out.info(`scheduler logs: ${result.logDir}`);
  out.info("watch with:");
  for (const w of result.watch) out.info(`  ${w}`);
}

