import { stopCategory } from "../failures/scheduler-verdict.js";
import type { FailureCategory } from "../schemas/records.js";
import { parseSlurmJobContext, slurmJobContextArgv } from "../schedulers/slurm-job-context.js";
import { execFile } from "node:child_process";
import type { CommandOutcome, RunCommandOptions } from "../schedulers/runner.js";

/**
 * `scontrol show job` run with node:child_process, not the runner module's execa: this is on
 * run-one's path, which stays free of execa (see supervise.ts); only an ok answer is used.
 */
function runScontrol(argv: readonly string[], o: RunCommandOptions = {}): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: o.timeoutMs ?? 3_000, killSignal: "SIGKILL", encoding: "utf8" }, (err, stdout, stderr) => {
      resolve(err ? { kind: "failed", exitCode: typeof err.code === "number" ? err.code : null, signal: err.signal ?? null, stdout, stderr } : { kind: "ok", stdout, stderr });
    });
  });
}

/** Why the scheduler stopped this job, when it says more than the stop signal (see stopCategory). */
export interface StopVerdict {
  category: FailureCategory;
  requeued: boolean;
  /** `scontrol: JobState=PENDING Reason=BeginTime Restarts=1` for the log. */
  evidence: string;
}

/**
 * Asked once when run-one gets a plain stop signal inside a Slurm job: node failures and
 * preemption requeue the job and send the same SIGTERM as scancel, and a walltime kill without
 * `--signal` does too. Bounded by `timeoutMs` (the signal's grace runs on afterwards); any
 * failure to ask leaves the signal's own category.
 */
export async function askStopVerdict(
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number; run?: (argv: readonly string[], o?: RunCommandOptions) => Promise<CommandOutcome> } = {},
): Promise<StopVerdict | null> {
  const jobId = env.SLURM_JOB_ID;
  if (!jobId || !/^\d+$/.test(jobId)) return null;
  const run = opts.run ?? runScontrol;
  const o = await run(slurmJobContextArgv(jobId), { timeoutMs: opts.timeoutMs ?? 3_000 }).catch(() => null);
  if (!o || o.kind !== "ok") return null;
  const ctx = parseSlurmJobContext(o.stdout);
  if (!ctx) return null;
  const restartsAtStart = Number(env.SLURM_RESTART_COUNT ?? "0") || 0;
  const v = stopCategory(ctx, restartsAtStart);
  if (!v) return null;
  return { ...v, evidence: `scontrol: JobState=${ctx.jobState}${ctx.reason ? ` Reason=${ctx.reason}` : ""}${ctx.restarts !== null ? ` Restarts=${ctx.restarts}` : ""}` };
}

/** The scheduler's answer an abort reason carries (`{category, signal, verdict}`, set by run-one's signal handler). */
function verdictOf(signal: AbortSignal | undefined): Promise<StopVerdict | null> | null {
  const r: unknown = signal?.reason;
  if (typeof r === "object" && r !== null && "verdict" in r) {
    const v = (r as { verdict: unknown }).verdict;
    if (v instanceof Promise) return v as Promise<StopVerdict | null>;
  }
  return null;
}

/**
 * A run stopped by a plain stop signal (CANCELLED) takes the scheduler's reason when it has one:
 * requeued after a node failure / preemption (NODE_FAIL / PREEMPTED, "requeued by the
 * scheduler"), or ended at the walltime without a warning signal (TIMEOUT).
 */
export async function withStopVerdict<F extends { category: FailureCategory; message: string }>(failure: F | null, signal: AbortSignal | undefined): Promise<F | null> {
  if (!failure || failure.category !== "CANCELLED") return failure;
  const pending = verdictOf(signal);
  const v = pending ? await pending.catch(() => null) : null;
  if (!v) return failure;
  const what = v.requeued ? `requeued by the scheduler (${v.category === "PREEMPTED" ? "preemption" : "node failure"})` : `the scheduler ended the job ${v.category}`;
  return { ...failure, category: v.category, message: `${what}; run-one saw: ${failure.message} [${v.evidence}]` };
}
