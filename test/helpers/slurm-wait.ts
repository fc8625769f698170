import { setTimeout as delay } from "node:timers/promises";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";

/**
 * Poll `squeue -h -j ID -o %i` until the job (every array element) has left the queue, or fail
 * after `maxMs`. Bounded polling, not a fixed sleep.
 */
export async function waitForSlurmJobsGone(jobIds: string[], maxMs = 60_000, everyMs = 300): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const out = await runSchedulerCommand(["squeue", "-h", "-j", jobIds.join(","), "-o", "%i|%T"]);
    const live =
      out.kind === "ok"
        ? out.stdout
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l !== "" && !/\|(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)$/.test(l))
        : [];
    if (out.kind === "ok" && live.length === 0) return;
    if (out.kind !== "ok" && out.kind !== "failed") throw new Error(`squeue: ${out.kind}`);
    if (out.kind === "failed" && /Invalid job id/i.test(out.stderr)) return;
    if (Date.now() > deadline) throw new Error(`jobs ${jobIds.join(",")} still queued after ${maxMs} ms: ${live.join("; ")}`);
    await delay(everyMs);
  }
}
