import fs from "node:fs";
import path from "node:path";

/**
 * The peak memory of the scheduler job's own cgroup, when this process runs in one: cgroup v2
 * `memory.peak`, cgroup v1 `memory.max_usage_in_bytes` (what Slurm's task/cgroup and PBS/Torque
 * cgroup hooks enforce `--mem` on). Only a cgroup whose path names this job (`job_<SLURM_JOB_ID>`,
 * the PBS/Torque job id) counts: a container's or a login session's cgroup holds other people's
 * processes. The figure covers every process of the job (run-one included, and the page cache
 * the kernel charges to it) over the job's life so far.
 */
export interface CgroupPeakProbe {
  file: string;
}

/** The memory-peak file of this job's cgroup, or null when not running in one. */
export function findJobCgroupPeak(env: NodeJS.ProcessEnv = process.env, procSelfCgroup = "/proc/self/cgroup", root = "/sys/fs/cgroup"): CgroupPeakProbe | null {
  const jobIds = [env.SLURM_JOB_ID, env.PBS_JOBID?.split(".")[0]].filter((v): v is string => v !== undefined && v !== "");
  if (jobIds.length === 0) return null;
  let text: string;
  try {
    text = fs.readFileSync(procSelfCgroup, "utf8");
  } catch {
    return null;
  }
  const namesJob = (p: string): boolean => jobIds.some((id) => new RegExp(`/(job_)?${id.replace(/\W/g, "")}([/.[]|$)`).test(`/${p}`));
  for (const line of text.split("\n")) {
    const [, controllers = "", cgPath = ""] = line.split(":");
    if (!namesJob(cgPath)) continue;
    const candidates = controllers === "" ? [path.join(root, cgPath, "memory.peak"), path.join(root, "unified", cgPath, "memory.peak")] : controllers.split(",").includes("memory") ? [path.join(root, "memory", cgPath, "memory.max_usage_in_bytes")] : [];
    for (const c of candidates) {
      // the step cgroup (Slurm's step_batch/task_0) may have no peak file; its job cgroup does
      for (let dir = path.dirname(c); namesJob(path.relative(root, dir)); dir = path.dirname(dir)) {
        const f = path.join(dir, path.basename(c));
        if (readPeakKb({ file: f }) !== null) return { file: f };
      }
    }
  }
  return null;
}

/** The current peak in KiB, or null when unreadable. */
export function readPeakKb(probe: CgroupPeakProbe): number | null {
  try {
    const v = Number(fs.readFileSync(probe.file, "utf8").trim());
    return Number.isFinite(v) && v > 0 ? Math.round(v / 1024) : null;
  } catch {
    return null;
  }
}
