import { execFileSync } from "node:child_process";
import path from "node:path";
import { REPO } from "./cli.js";

/** How the test Slurm enforces --mem (scripts/slurm-local-start.sh CST_SLURM_MEMORY). */
export type SlurmMemoryMode = "none" | "cgroup" | "overmemorykill";

/**
 * (Re)start the test Slurm in a memory mode through the project's start script (accounting on,
 * 8 CPUs unless CST_SLURM_CPUS says otherwise); jobs queued at the time are kept. Throws with the
 * script's output when the node does not come up: under CST_REQUIRE_SLURM=1 that fails the file.
 */
export function startSlurmMode(mode: SlurmMemoryMode): string {
  try {
    return execFileSync("bash", [path.join(REPO, "scripts", "slurm-local-start.sh")], {
      env: { ...process.env, CST_SLURM_MEMORY: mode, CST_SLURM_ACCOUNTING: "1", CST_SLURM_CPUS: process.env.CST_SLURM_CPUS ?? "8" },
      encoding: "utf8",
      stdio: "pipe",
      timeout: 300_000,
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`slurm-local-start.sh (CST_SLURM_MEMORY=${mode}) failed: ${err.message}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
  }
}

/** The memory mode the running Slurm is in, read from `scontrol show config`. */
export function currentSlurmMode(): SlurmMemoryMode {
  const conf = execFileSync("scontrol", ["show", "config"], { encoding: "utf8", timeout: 30_000 });
  if (/^TaskPlugin\s*=\s*.*task\/cgroup/m.test(conf)) return "cgroup";
  if (/^JobAcctGatherParams\s*=\s*.*OverMemoryKill/im.test(conf)) return "overmemorykill";
  return "none";
}
