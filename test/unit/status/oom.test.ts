import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { describeOomEvidence, readOomKillCount } from "../../../src/run/oom.js";

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fakeCgroup(procLine: string, file: string, text: string): { proc: string; root: string } {
  dir = mkdtempSync(path.join(os.tmpdir(), "cst-oom-"));
  const proc = path.join(dir, "cgroup");
  writeFileSync(proc, procLine);
  const root = path.join(dir, "sys");
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), text);
  return { proc, root };
}

describe("cgroup OOM evidence for a SIGKILL cst-batch did not send", () => {
  it("cgroup v2: oom_kill from <cgroup>/memory.events (as in a Slurm job's cgroup)", () => {
    const { proc, root } = fakeCgroup("0::/system.slice/slurmstepd.scope/job_42/step_batch/user/task_0\n", "system.slice/slurmstepd.scope/job_42/step_batch/user/task_0/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    expect(readOomKillCount(proc, root)).toBe(1);
  });

  it("cgroup v1: oom_kill from memory/<cgroup>/memory.oom_control", () => {
    const { proc, root } = fakeCgroup("12:cpuset:/\n4:memory:/slurm/uid_0/job_42/step_batch\n", "memory/slurm/uid_0/job_42/step_batch/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    expect(readOomKillCount(proc, root)).toBe(2);
  });

  it("no memory controller: unknown, and the message says so", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cst-oom-"));
    expect(readOomKillCount(path.join(dir, "missing"), dir)).toBeNull();
    expect(describeOomEvidence(null, null)).toMatch(/no cgroup/);
    expect(describeOomEvidence(0, 1)).toMatch(/confirmed/);
    expect(describeOomEvidence(1, 1)).toMatch(/no OOM kill/);
  });
});
