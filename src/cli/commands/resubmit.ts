import type { Command } from "commander";
import { CATEGORY_VALUES, RERUN_SCHEDULERS, choiceOption } from "../completion-values.js";
import { CstError, EXIT } from "../../errors.js";
import type { ResubmitResult } from "../../resubmit/resubmit.js";
import { formatArgv, shellQuote } from "../../shell/shell-quote.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { color, out } from "../output.js";
import type { SetExit } from "./set-exit.js";

interface ResubmitFlags {
  out: string;
  failed?: boolean;
  category?: string;
  subjects?: string;
  time?: string;
  mem?: string;
  timeoutMinutes?: string;
  memFactor?: string;
  memPerSubject?: string;
  timeFactor?: string;
  profile?: string | false;
  dryRun?: boolean;
  adoptExisting?: boolean;
  json?: boolean;
  scheduler?: string;
  jobs?: string;
}

const HELP_AFTER = `
Where: on the scheduler of the last submission, or here (--scheduler local) when the study was
run locally (the default then) or when asked. A local rerun runs the tasks with --jobs workers,
then collects.

Fix and rerun in one command: the selected subjects' inputs are checked first. A subject whose
NIfTI/.bval/.bvec/.json changed since the plan (you fixed it) is planned again on its own (a new
current plan; every other subject keeps its line, done stays done) and rerun; one whose inputs are
missing is left out and named with what to do.

What is rerun: every task that is not done, not running and not queued (failed, stale, never
run), or with --failed only the failed and stale ones, narrowed by --category and --subjects.
\`status\` runs first and records what only the scheduler knows (OOM, walltime, node failure).
The rerun list becomes a new array with indices 0..N-1 (PBS Pro takes no index lists), pointing
at the same immutable plan, with its own collect job. Running and done subjects are never started
(submit checks every lock and _done.json again just before it submits).

Resources: those of the last submission (its record), overridden by --time / --mem.
--mem-factor F multiplies the memory of OUT_OF_MEMORY reruns, --time-factor F the walltime (and an
explicit per-subject timeout) of TIMEOUT reruns; each escalated group is its own array. Other
failures keep the base resources.

Retry policy: "retry": {"TIMEOUT": 2, "OUT_OF_MEMORY": 2} in the cluster profile allows at most that
many attempts (of the current configuration) ending in the category; subjects past it are skipped
and listed.

Examples:
  $ cst-batch resubmit --out /scratch/study-cst --failed
  $ cst-batch resubmit --out results --failed --scheduler local --jobs 4
  $ cst-batch resubmit --out results --category OUT_OF_MEMORY,TIMEOUT --mem-factor 1.5 --time-factor 2
  $ cst-batch resubmit --out results --subjects sub-07,sub-12 --mem 16G --dry-run

${exitCodesHelp([EXIT.OK, EXIT.USAGE, EXIT.SYSTEM])}`;

/** `cst-batch resubmit`: rerun failed / never-run tasks as a compact new array. */
export function registerResubmitCommand(program: Command, setExit: SetExit): void {
  program
    .command("resubmit")
    .description("rerun failed (or never run) tasks as a new compact array, optionally with more memory / time")
    .requiredOption("--out <dir>", "the output folder of `cst-batch submit`")
    .option("--failed", "only failed and stale tasks (not the never-run ones)")
    .addOption(choiceOption("--category <list>", "only failures of these categories: TIMEOUT,OUT_OF_MEMORY,... (INPUT = INPUT_MISSING)", CATEGORY_VALUES))
    .option("--subjects <list>", "only these subjects (sub-01,02,sub-03_ses-1), comma-separated")
    .option("--time <duration>", "walltime per array task (default: the last submission's)")
    .option("--mem <size>", "memory per array task (default: the last submission's)")
    .option("--timeout-minutes <m>", "per-subject csttool timeout (default: the last submission's if it was explicit, else derived from --time)")
    .option("--mem-factor <f>", "multiply the memory of OUT_OF_MEMORY reruns by F (e.g. 1.5); locally: F x --mem-per-subject each, so fewer run at once")
    .option("--time-factor <f>", "multiply the walltime of TIMEOUT reruns by F (e.g. 2)")
    .option("--profile <file>", "cluster profile (its \"retry\" limits are honoured)")
    .option("--no-profile", "do not read the default profile")
    .addOption(choiceOption("--scheduler <name>", "where to rerun: local, slurm, pbs, torque, sge or lsf (default: the last submission's scheduler; local when none)", RERUN_SCHEDULERS))
    .option("--jobs <n>", "local rerun: concurrent subjects (default: min(CPU count, available memory ÷ --mem-per-subject))")
    .option("--mem-per-subject <size>", "local rerun: memory one csttool needs (default: the study's recorded value, else 2G)")
    .option("--dry-run", "show what would be rerun and the scripts; submit nothing, record nothing")
    .option("--adopt-existing", "let results replace files in subject folders that cst-batch did not create (default: such a subject stops and names them)")
    .option("--json", "print the result as JSON on stdout")
    .addHelpText("after", HELP_AFTER)
    .action(async (flags: ResubmitFlags) => {
      const [{ resubmit }, { parseCategoryList }, { parseMemory }] = await Promise.all([import("../../resubmit/resubmit.js"), import("../../failures/categories.js"), import("../../schedulers/memory.js")]);
      const number = (flag: string, v: string | undefined): number | null => {
        if (v === undefined) return null;
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) throw new CstError("USAGE", `${flag} must be a positive number, found ${JSON.stringify(v)}`);
        return n;
      };
      const timeoutEnv = Number(process.env.CST_BATCH_SCHEDULER_TIMEOUT_SECONDS);
      const schedulers = ["local", "slurm", "pbs", "torque", "sge", "lsf"] as const;
      if (flags.scheduler !== undefined && !(schedulers as readonly string[]).includes(flags.scheduler)) {
        throw new CstError("USAGE", `--scheduler must be one of ${schedulers.join(", ")}, found ${JSON.stringify(flags.scheduler)}`, { hint: "e.g. --scheduler local" });
      }
      const jobs = number("--jobs", flags.jobs);
      const { localConsole } = await import("../local-submit.js");
      const local = localConsole(Boolean(flags.json));
      let result: ResubmitResult;
      try {
      result = await resubmit({
        ...(flags.scheduler ? { scheduler: flags.scheduler as (typeof schedulers)[number] } : {}),
        ...(jobs !== null ? { jobs: Math.floor(jobs) } : {}),
        ...(flags.memPerSubject !== undefined ? { memPerSubjectMiB: parseMemory(flags.memPerSubject, "--mem-per-subject") } : {}),
        signal: local.signal,
        onLocalProgress: (progress) => local.onEvent({ type: "progress", progress }),
        onLocalStart: (indices, total, poolJobs) => local.onEvent({ type: "pool-started", indices, jobs: poolJobs, total }),
        out: flags.out,
        failedOnly: Boolean(flags.failed),
        categories: flags.category !== undefined ? parseCategoryList(flags.category) : null,
        subjects: flags.subjects !== undefined ? flags.subjects.split(",").map((s) => s.trim()).filter(Boolean) : null,
        time: flags.time ?? null,
        mem: flags.mem ?? null,
        timeoutMinutes: number("--timeout-minutes", flags.timeoutMinutes),
        memFactor: number("--mem-factor", flags.memFactor),
        timeFactor: number("--time-factor", flags.timeFactor),
        profile: { path: typeof flags.profile === "string" ? flags.profile : null, disabled: flags.profile === false },
        dryRun: Boolean(flags.dryRun),
        adoptExisting: flags.adoptExisting === true,
        commandLine: ["cst-batch", ...process.argv.slice(2)],
        ...(Number.isFinite(timeoutEnv) && timeoutEnv > 0 ? { commandTimeoutMs: timeoutEnv * 1000 } : {}),
      });
      } finally {
        local.close();
      }
      if (flags.json) out.json(resultJson(result));
      else printHuman(result, Boolean(flags.dryRun));
      const ran = result.groups.flatMap((g) => g.local?.results ?? []);
      const interrupted = result.groups.some((g) => g.local?.interrupted);
      setExit(interrupted ? EXIT.INTERRUPTED : ran.some((r) => r.outcome.kind === "failed") ? EXIT.SUBJECT_FAILED : EXIT.OK);
    });
}

/** A rerun task's key by plan index. */
function keyOf(r: ResubmitResult, i: number): string {
  return r.selection.keyOf.get(i) ?? String(i);
}

function resultJson(r: ResubmitResult): unknown {
  return {
    kind: r.groups.length === 0 ? "nothing-to-do" : r.groups.some((g) => g.local) ? "ran-locally" : r.groups.some((g) => g.result?.kind === "submitted") ? "submitted" : (r.groups[0]?.result?.kind ?? (r.scheduler === "local" ? "dry-run" : "nothing-to-do")),
    scheduler: r.scheduler,
    base_submission: r.base?.submission_id ?? null,
    replanned: r.replan.replanned,
    blocked: r.replan.blocked.map((b) => ({ key: b.key, reason: b.reason })),
    plan_path: r.replan.planPath,
    rerun: r.selection.rerun.map((i) => keyOf(r, i)),
    skipped: r.selection.skipped,
    groups: r.groups.map((g) => ({
      label: g.label,
      tasks: g.indices,
      time_seconds: g.settings.array.timeSeconds,
      mem_mib: g.settings.array.memMiB,
      timeout_minutes: g.explicitTimeoutMinutes,
      result: g.result?.kind ?? null,
      submission_id: g.result && g.result.kind !== "nothing-to-do" ? g.result.submission.submission_id : null,
      job_ids: g.result && g.result.kind === "submitted" ? g.result.submission.shards.map((s) => s.job_id) : [],
      collect_job_id: g.result && g.result.kind === "submitted" ? (g.result.submission.collect?.job_id ?? null) : null,
      chunks: g.result && g.result.kind !== "nothing-to-do" ? g.result.submission.chunks : [],
      notes: g.result?.notes ?? [],
      local_results: g.local ? g.local.results.map((x) => ({ key: x.key, outcome: x.outcome.kind, category: x.outcome.kind === "failed" ? x.outcome.category : null })) : null,
      warnings: g.result?.warnings ?? [],
    })),
    notes: r.notes,
  };
}

function printHuman(r: ResubmitResult, dryRun: boolean): void {
  for (const s of r.selection.skipped) out.info(`skipped ${s.key}: ${s.why}`);
  for (const p of r.replan.replanned) out.info(`${p.key}: ${dryRun ? "would be planned again" : "planned again"} (${p.reason})`);
  for (const b of r.replan.blocked) out.warn(`${b.key}: not rerun: ${b.reason}`);
  if (r.scheduler === "local") {
    if (r.groups.length === 0) {
      out.info("nothing to rerun: no task matches (see `cst-batch status`)");
      return;
    }
    for (const n of r.notes) out.info(n);
    for (const g of r.groups) {
      const keys = g.indices.map((i) => keyOf(r, i));
      if (!g.local) {
        out.info(`${color("1", "dry run")} ${g.label}: would rerun here ${keys.length} task(s): ${keys.join(", ")}${g.explicitTimeoutMinutes !== null ? ` (timeout ${g.explicitTimeoutMinutes} min)` : ""}`);
        continue;
      }
      for (const x of g.local.results) out.info(`  ${x.key}: ${x.outcome.kind}${x.outcome.kind === "failed" ? ` ${x.outcome.category}` : ""}`);
    }
    out.info(`see \`cst-batch status --out ${shellQuote(r.status.out)}\``);
    return;
  }
  if (r.groups.length === 0) {
    out.info("nothing to resubmit: no task matches (see `cst-batch status`)");
    return;
  }
  for (const n of r.notes) out.info(n);
  for (const g of r.groups) {
    const res = g.result;
    const keys = g.indices.map((i) => keyOf(r, i));
    const head = `${g.label}: ${keys.length} task(s) (${keys.slice(0, 8).join(", ")}${keys.length > 8 ? ", ..." : ""}), time ${g.settings.array.timeSeconds} s, mem ${g.settings.array.memMiB} MiB`;
    if (!res || res.kind === "nothing-to-do") {
      out.info(`${head}: nothing submitted (${res?.notes.join("; ") ?? ""})`);
      continue;
    }
    for (const w of res.warnings) out.warn(w);
    if (res.kind === "dry-run") {
      out.info(`${color("1", "dry run")} ${head}: would submit ${res.submission.chunks.length} array element(s)`);
      for (const s of res.scripts) out.data(`# ===== ${s.name}: ${s.path}\n${s.text}`);
      for (const s of res.scripts) out.data(formatArgv(s.submitArgv));
      continue;
    }
    out.info(`${color("1", "resubmitted")} ${head}`);
    for (const s of res.submission.shards) out.info(`  array ${s.shard}: job ${s.job_id} (${s.count} element(s))`);
    out.info(`  collect: job ${res.submission.collect?.job_id}`);
    out.info(`  record: ${res.recordPath}`);
  }
  void dryRun;
}
