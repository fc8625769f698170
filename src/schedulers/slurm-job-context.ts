import type { StopContext } from "../failures/scheduler-verdict.js";

/** `scontrol show job -o <id>`: one line of `Key=Value` pairs for the job. */
export function slurmJobContextArgv(jobId: string): string[] {
  return ["scontrol", "show", "job", "-o", jobId];
}

/** The stop context from `scontrol show job -o` output; null when it names no JobState. */
export function parseSlurmJobContext(stdout: string): StopContext | null {
  const field = (key: string): string | null => new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(stdout)?.[1] ?? null;
  const jobState = field("JobState");
  if (!jobState) return null;
  const reason = field("Reason");
  const restarts = field("Restarts");
  return { jobState, reason: reason === null || reason === "None" ? null : reason, restarts: restarts !== null && /^\d+$/.test(restarts) ? Number(restarts) : null };
}
