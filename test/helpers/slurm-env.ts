import { execFileSync } from "node:child_process";

export type SlurmAvailability = { available: true; nodeState: string } | { available: false; reason: string };

let cached: SlurmAvailability | undefined;

/**
 * Is a usable Slurm cluster reachable (sbatch on PATH and `sinfo` reports a usable node)?
 * Start the local test cluster with `scripts/slurm-local-start.sh` (root).
 */
export function slurmAvailable(): SlurmAvailability {
  if (cached) return cached;
  try {
    execFileSync("sbatch", ["--version"], { stdio: "pipe", timeout: 10_000 });
  } catch {
    return (cached = { available: false, reason: "sbatch is not on PATH (run scripts/slurm-local-start.sh as root)" });
  }
  try {
    const out = execFileSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", stdio: "pipe", timeout: 15_000 });
    const states = out.split("\n").map((s) => s.trim()).filter(Boolean);
    const usable = states.find((s) => /^(idle|mixed|allocated|completing)/.test(s));
    if (!usable) return (cached = { available: false, reason: `no usable Slurm node (sinfo states: ${states.join(", ") || "none"})` });
    return (cached = { available: true, nodeState: usable });
  } catch (e) {
    return (cached = { available: false, reason: `sinfo failed: ${(e as Error).message.split("\n")[0]}` });
  }
}

/**
 * For `describe.skipIf(!requireSlurmOrSkip())`: true when Slurm is usable; otherwise prints why
 * the tests are skipped and returns false — unless CST_REQUIRE_SLURM=1, where a missing Slurm is
 * an error (thrown at collection time, so the test file fails).
 */
export function requireSlurmOrSkip(): boolean {
  const s = slurmAvailable();
  if (s.available) return true;
  if (process.env.CST_REQUIRE_SLURM === "1") {
    throw new Error(`CST_REQUIRE_SLURM=1 but Slurm is not usable: ${s.reason}`);
  }
  console.warn(`[slurm tests skipped] ${s.reason}`);
  return false;
}

/** True when `qsub` (Slurm's PBS wrapper on the test cluster) is on PATH. */
export function qsubAvailable(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v qsub"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}
