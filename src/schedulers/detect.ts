import { runSchedulerCommand, type RunCommandOptions } from "./runner.js";
import type { SchedulerName } from "./types.js";

export type DetectedScheduler =
  | { kind: "found"; scheduler: SchedulerName; evidence: string }
  | { kind: "local"; evidence: string }
  | { kind: "unknown-pbs"; evidence: string };

/**
 * Tell PBS Pro from Torque by `qstat --version`: PBS Pro prints `pbs_version = 19.1.3`, Torque
 * `Version: 6.1.2`. Anything else (Slurm's qstat wrapper prints its usage) is not guessed.
 */
export function classifyQstatVersion(output: string): "pbs" | "torque" | "sge" | null {
  if (/pbs_version\s*=\s*\S+/i.test(output)) return "pbs";
  // Grid Engine's qstat has no --version: it prints its usage, headed `SGE 8.1.9` (Son of Grid
  // Engine), `UGE 8.6.4` / `AGE 2024.1` (Univa/Altair) or `OCS 9.0` (Open Cluster Scheduler).
  if (/^\s*(?:SGE|UGE|AGE|OGS\/GE|OCS|GE)\s+\d[\w.]*\s*$/m.test(output)) return "sge";
  if (/^\s*Version:\s*\S+/im.test(output)) return "torque";
  return null;
}

/**
 * `--scheduler auto`: `sbatch` on PATH -> slurm (also when Slurm's PBS wrappers are installed
 * next to it: they need Slurm); else `qsub` -> PBS Pro or Torque by `qstat --version`; else LSF's
 * `bsub` or `lsid` -> lsf; none of them -> local.
 * A qsub whose qstat answers neither way is reported as `unknown-pbs`: the caller asks for an
 * explicit `--scheduler pbs|torque` rather than guessing.
 */
export async function detectScheduler(opts: RunCommandOptions = {}): Promise<DetectedScheduler> {
  const runOpts = { timeoutMs: 15_000, ...opts };
  const sbatch = await runSchedulerCommand(["sbatch", "--version"], runOpts);
  if (sbatch.kind !== "missing") {
    return { kind: "found", scheduler: "slurm", evidence: `sbatch --version: ${firstLine(sbatch)}` };
  }
  const qstat = await runSchedulerCommand(["qstat", "--version"], runOpts);
  if (qstat.kind === "missing") {
    const lsf = await detectLsf(runOpts);
    if (lsf) return lsf;
    return { kind: "local", evidence: "neither sbatch nor qstat (nor LSF's bsub/lsid) on PATH" };
  }
  const text = "stdout" in qstat ? `${qstat.stdout}\n${qstat.stderr}` : "";
  const which = classifyQstatVersion(text);
  if (which) return { kind: "found", scheduler: which, evidence: `qstat --version: ${text.trim().split("\n")[0] ?? ""}` };
  return { kind: "unknown-pbs", evidence: `qstat --version: ${text.trim().split("\n")[0] ?? qstat.kind}` };
}

function firstLine(o: Awaited<ReturnType<typeof runSchedulerCommand>>): string {
  return "stdout" in o ? (o.stdout.trim().split("\n")[0] ?? "") : o.kind;
}

/** LSF: `bsub -V` (prints the LSF version, on stderr) or, without bsub, `lsid` on PATH -> lsf. */
async function detectLsf(runOpts: RunCommandOptions): Promise<DetectedScheduler | null> {
  for (const argv of [["bsub", "-V"], ["lsid"]]) {
    const o = await runSchedulerCommand(argv, runOpts);
    if (o.kind === "missing") continue;
    const text = `${o.stdout}\n${o.stderr}`.trim().split("\n")[0] ?? "";
    return { kind: "found", scheduler: "lsf", evidence: `${argv.join(" ")}: ${text}` };
  }
  return null;
}
