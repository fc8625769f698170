import type { Command } from "commander";
import { CstError, EXIT } from "../../errors.js";
import { STOP_SIGNALS, stopSignalCategory } from "../../failures/signals.js";
import type { RunOneOutcome } from "../../run/run-one.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { out } from "../output.js";
import type { SetExit } from "./set-exit.js";

export interface RunOneFlags {
  plan?: string;
  index?: string;
  submission?: string;
  chunk?: string;
  force?: boolean;
  adoptExisting?: boolean;
  timeoutMinutes?: string;
  graceSeconds?: string;
  containerRuntime?: string;
  containerImage?: string;
  json?: boolean;
}

/** run-one's own options, for commander and for the direct reading in run-one-main.ts. */
export const RUN_ONE_OPTIONS: readonly { flags: string; description: string }[] = [
  { flags: "--plan <file>", description: "plan file, or an output folder for its current plan (default: $CST_BATCH_PLAN)" },
  { flags: "--index <n>", description: "task index in the plan" },
  { flags: "--submission <file>", description: "submission record; with --chunk, run that chunk's tasks one after another" },
  { flags: "--chunk <k>", description: "chunk number in the submission" },
  { flags: "--force", description: "rerun even when the subject is already done with the same configuration" },
  { flags: "--adopt-existing", description: "let the result replace files in the subject folder that cst-batch did not create (default: stop and name them)" },
  { flags: "--timeout-minutes <m>", description: "time limit for csttool (default: the plan's)" },
  { flags: "--grace-seconds <s>", description: "between SIGTERM and SIGKILL when stopping csttool (default: the plan's)" },
  { flags: "--container-image <image>", description: "run csttool as `<runtime> exec --bind <out,inputs> <image> csttool ...`" },
  { flags: "--container-runtime <name>", description: "apptainer (default) or singularity; with --container-image" },
  { flags: "--json", description: "print the outcome as JSON on stdout" },
];


function parsePositive(flag: string, value: string | undefined, allowZero: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new CstError("USAGE", `${flag} must be a number ${allowZero ? ">= 0" : "> 0"}, got "${value}"`);
  }
  return n;
}

/** One line for the terminal / the scheduler's output file. */
function describeOutcome(o: RunOneOutcome): string {
  const who = `${o.task.key} (task ${o.task.index})`;
  switch (o.kind) {
    case "success":
      return `${who}: success in ${o.record.duration_seconds.toFixed(1)} s -> ${o.task.dir}`;
    case "skipped":
      return `${who}: already done (finished ${o.record.finished_at}); skipped (use --force to rerun)`;
    case "busy": {
      const w = o.owner;
      return `${who}: busy, another run holds the lock: ${w ? `pid ${w.pid} on ${w.host}, job ${w.job_id ?? "none"}, since ${w.since}` : "owner unknown"}`;
    }
    case "failed":
      return `${who}: failed ${o.category}: ${o.record.message}${o.attemptDir ? ` (record: ${o.attemptDir})` : ""}; next: ${o.record.next_step}`;
  }
}

function outcomeJson(o: RunOneOutcome, exitCode: number): Record<string, unknown> {
  return {
    index: o.task.index,
    key: o.task.key,
    subject: o.task.subject,
    session: o.task.session,
    outcome: o.kind,
    category: o.kind === "failed" ? o.category : null,
    exit_code: exitCode,
    dir: o.task.dir,
    log_file: o.task.logFile,
    ...(o.kind === "failed" ? { attempt_dir: o.attemptDir } : {}),
    ...(o.kind === "busy" ? { owner: o.owner } : { record: o.record }),
  };
}

/** `cst-batch run-one`: run one plan task (or one submission chunk) under a lock. */
export function registerRunOneCommand(program: Command, setExit: SetExit): void {
  const command = program.command("run-one").description("run csttool for one plan task (what each array task of a submitted job calls)");
  for (const o of RUN_ONE_OPTIONS) command.option(o.flags, o.description);
  command
    .addHelpText(
      "after",
      `
Examples:
  $ cst-batch run-one --plan results/.cst-batch/plans/<plan_id>.json --index 12
  $ CST_BATCH_PLAN=results/.cst-batch/plan.jsonl cst-batch run-one --index 12
  $ cst-batch run-one --submission results/.cst-batch/submissions/<id>.json --chunk 3
  $ cst-batch run-one --plan results/.cst-batch/plan.jsonl --index 0 --force --timeout-minutes 30

Output: logs/<key>.log (csttool's lines with timestamps, cst-batch's own as "cst|"); on failure
_failed_attempts/<time>_<CATEGORY>/attempt.json and logs/<key>_error.log, whose last lines name
the category and the next step. A chunk (--submission/--chunk) exits with the worst of its tasks'
codes.

${exitCodesHelp([EXIT.OK, EXIT.USAGE, EXIT.SUBJECT_FAILED, EXIT.TIMEOUT_OR_KILLED, EXIT.SYSTEM, EXIT.LOCK_BUSY, EXIT.INTERRUPTED])}`,
    )
    .action((flags: RunOneFlags) => runOneAction(flags, setExit));
}

/** What `cst-batch run-one` does with its flags (also reached without commander, see run-one-main.ts). */
export async function runOneAction(flags: RunOneFlags, setExit: SetExit): Promise<void> {
  const timeoutMinutes = parsePositive("--timeout-minutes", flags.timeoutMinutes, false);
  const container = parseContainer(flags);
  const graceSeconds = parsePositive("--grace-seconds", flags.graceSeconds, true);
  const { runTargets } = await import("../../run/run-targets.js");

  const controller = new AbortController();
  const handlers = STOP_SIGNALS.map(([signal, general]) => {
    const category = stopSignalCategory(signal, general, process.env);
    const handler = (): void => {
      if (controller.signal.aborted) return;
      out.warn(`received ${signal}: stopping csttool (${category})`);
      // Inside a Slurm job, a SIGTERM may be a requeue (node failure, preemption) or the walltime:
      // ask the scheduler while csttool is being stopped; the record takes its answer.
      const verdict =
        category === "CANCELLED" && process.env.SLURM_JOB_ID
          ? import("../../run/stop-context.js").then(async (m) => {
              const v = await m.askStopVerdict(process.env);
              if (v) out.warn(`${v.requeued ? "requeued by the scheduler" : "the scheduler ended the job"}: ${v.category} (${v.evidence})`);
              return v;
            })
          : null;
      controller.abort({ category, signal, ...(verdict ? { verdict } : {}) });
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });

  let outcomes: RunOneOutcome[];
  let canaryNotRun: number[] = [];
  try {
    outcomes = await runTargets({
      plan: flags.plan,
      index: flags.index,
      submission: flags.submission,
      chunk: flags.chunk,
      run: {
        force: flags.force === true,
        adoptExisting: flags.adoptExisting === true,
        signal: controller.signal,
        ...(timeoutMinutes !== undefined ? { timeoutMinutes } : {}),
        ...(graceSeconds !== undefined ? { graceSeconds } : {}),
        container,
        onEvent: (e) => {
          if (e.type === "recovered") out.warn(`${e.task.key}: ${e.message}`);
          else if (e.type === "started") out.debug(`${e.task.key}: started ${JSON.stringify(e.argv)}`);
          else if (e.type === "stopping") out.debug(`${e.task.key}: stopping (${e.reason}, ${e.category})`);
        },
      },
      onOutcome: (outcome) => {
        if (outcome.kind === "failed") out.error(describeOutcome(outcome));
        else out.info(describeOutcome(outcome));
      },
      onCanaryStop: (stop) => {
        canaryNotRun = stop.notRun;
        out.warn(`not run (canary): plan task(s) ${stop.notRun.join(", ")}: ${stop.verdict.message}`);
        out.warn(`next: ${stop.verdict.next_step}`);
      },
    });
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
  // Already loaded by runTargets.
  const { exitCodeFor, worstExitCode } = await import("../../run/run-one.js");
  const codes = outcomes.map(exitCodeFor);
  const exitCode = worstExitCode(codes);
  if (flags.json) {
    const results = outcomes.map((o, i) => outcomeJson(o, codes[i]!));
    out.json(flags.submission !== undefined ? { chunk: Number(flags.chunk), exit_code: exitCode, tasks: results, not_run_canary: canaryNotRun } : results[0] ?? {});
  }
  setExit(controller.signal.aborted && codes.length === 0 ? EXIT.INTERRUPTED : exitCode);
}

/** `--container-image` / `--container-runtime` -> the container to run csttool in, or null. */
function parseContainer(flags: RunOneFlags): { runtime: "apptainer" | "singularity"; image: string } | null {
  if (flags.containerImage === undefined) {
    if (flags.containerRuntime !== undefined) throw new CstError("USAGE", "--container-runtime needs --container-image");
    return null;
  }
  if (flags.containerImage === "") throw new CstError("USAGE", "--container-image is empty");
  const runtime = flags.containerRuntime ?? "apptainer";
  if (runtime !== "apptainer" && runtime !== "singularity") {
    throw new CstError("USAGE", `--container-runtime must be apptainer or singularity, found ${JSON.stringify(runtime)}`);
  }
  return { runtime, image: flags.containerImage };
}
