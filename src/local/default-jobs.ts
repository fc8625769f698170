import os from "node:os";

/**
 * Local mode's default number of concurrent subjects: the smaller of the CPU count and the
 * available memory ÷ the memory one csttool needs. csttool 0.5.0 peaked at ~950 MiB on the
 * 40x40x36 phantom (docs/csttool-findings.md); real scans are larger, so the default figure per
 * subject is 2 GiB (`--mem-per-subject` sets your own, e.g. from status's max_rss).
 */
export const DEFAULT_MEM_PER_SUBJECT_MIB = 2048;

export interface JobsDefault {
  jobs: number;
  cores: number;
  /** Available memory in MiB (MemAvailable, or the cgroup's limit when lower). */
  availableMiB: number;
  memPerSubjectMiB: number;
  /** Which figure decided: "cores" or "memory". */
  limitedBy: "cores" | "memory";
}

export function cpuCount(): number {
  return Math.max(1, typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length);
}

/** Memory this process may use now, in MiB: the free (available) memory, capped by a cgroup limit. */
export function availableMemoryMiB(): number {
  let bytes = os.freemem();
  const constrained = typeof process.constrainedMemory === "function" ? process.constrainedMemory() : 0;
  if (constrained && constrained > 0 && constrained < bytes) bytes = constrained;
  return Math.floor(bytes / 1024 / 1024);
}

/** min(cores, available memory ÷ memory per subject), at least 1. */
export function defaultLocalJobs(memPerSubjectMiB: number = DEFAULT_MEM_PER_SUBJECT_MIB, probe: { cores?: number; availableMiB?: number } = {}): JobsDefault {
  const cores = probe.cores ?? cpuCount();
  const availableMiB = probe.availableMiB ?? availableMemoryMiB();
  const byMemory = Math.max(1, Math.floor(availableMiB / memPerSubjectMiB));
  const jobs = Math.max(1, Math.min(cores, byMemory));
  return { jobs, cores, availableMiB, memPerSubjectMiB, limitedBy: byMemory < cores ? "memory" : "cores" };
}

/** The line printed at start: how many subjects at once, and why. */
export function describeJobsDefault(d: JobsDefault): string {
  const gib = (mib: number): string => `${(mib / 1024).toFixed(1)} GiB`;
  return `--jobs not given: ${d.jobs} at once = min(${d.cores} CPU(s), ${gib(d.availableMiB)} available ÷ ${gib(d.memPerSubjectMiB)} per subject (--mem-per-subject))`;
}
