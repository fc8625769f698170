import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findJobCgroupPeak, readPeakKb } from "../../../src/processes/cgroup-peak.js";

/** A fake /proc/self/cgroup and cgroup tree. */
function tree(cgroupFile: string, files: Record<string, string>): { proc: string; root: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cst-cgroup-"));
  const proc = path.join(dir, "cgroup");
  writeFileSync(proc, cgroupFile);
  const root = path.join(dir, "sys");
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return { proc, root };
}

describe("the job cgroup's memory peak", () => {
  it("cgroup v2 under Slurm: memory.peak of the step, in KiB", () => {
    const t = tree("0::/system.slice/slurmstepd.scope/job_42/step_batch/user/task_0\n", {
      "system.slice/slurmstepd.scope/job_42/step_batch/user/task_0/memory.peak": String(700 * 1024 * 1024),
    });
    const probe = findJobCgroupPeak({ SLURM_JOB_ID: "42" }, t.proc, t.root);
    expect(probe?.file).toMatch(/task_0\/memory\.peak$/);
    expect(readPeakKb(probe!)).toBe(700 * 1024);
  });

  it("cgroup v1 under Slurm: memory.max_usage_in_bytes, from the job folder when the step has none", () => {
    const t = tree("4:memory:/slurm/uid_0/job_7/step_batch\n1:cpu:/slurm/uid_0/job_7/step_batch\n", {
      "memory/slurm/uid_0/job_7/memory.max_usage_in_bytes": "1048576",
    });
    const probe = findJobCgroupPeak({ SLURM_JOB_ID: "7" }, t.proc, t.root);
    expect(probe?.file).toMatch(/job_7\/memory\.max_usage_in_bytes$/);
    expect(readPeakKb(probe!)).toBe(1024);
  });

  it("a cgroup that does not name this job (a container's, another job's, a uid that looks like the id) is not used", () => {
    const t = tree("4:memory:/process_api/9a908de0b745\n0::/\n", { "memory/process_api/9a908de0b745/memory.max_usage_in_bytes": "99999999" });
    expect(findJobCgroupPeak({ SLURM_JOB_ID: "42" }, t.proc, t.root)).toBeNull();
    const other = tree("4:memory:/slurm/uid_42/job_43/step_batch\n", { "memory/slurm/uid_42/job_43/step_batch/memory.max_usage_in_bytes": "1" });
    expect(findJobCgroupPeak({ SLURM_JOB_ID: "42" }, other.proc, other.root)).toBeNull();
    expect(findJobCgroupPeak({}, t.proc, t.root)).toBeNull();
  });
});
