import { existsSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, startCli, STANDIN, tempDir } from "../helpers/cli.js";
import { readCurrentPlan } from "../helpers/plan-file.js";
import { fakeSlurm } from "../helpers/fake-slurm.js";

/**
 * The scheduler's verdict through the built CLI, with Slurm's commands faked on PATH (the real
 * Slurm tests in test/slurm/ show the same on the project's cluster): run-one records what it saw
 * (SIGTERM: CANCELLED), sacct knows better (TIMEOUT), and status, collect and resubmit follow
 * sacct; a requeued element is never shown failed nor resubmitted.
 */


async function waitFor(check: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A one-subject Slurm study (sub-02), submitted as job 1001 with --time 1h --mem 2G; run-one stopped by SIGTERM as Slurm does at the walltime. */
async function studyStoppedBySigterm(prefix: string, scontrolJob: string | null = null, expectCategory = "CANCELLED") {
  const dir = tempDir(prefix);
  const bids = makeDemoBids(path.join(dir, "bids"));
  const out = path.join(dir, "out");
  const bin = fakeSlurm(dir);
  if (scontrolJob !== null) writeFileSync(path.join(bin, "scontrol-job.out"), scontrolJob);
  const env = { XDG_CONFIG_HOME: path.join(dir, "xdg"), PATH: `${bin}:${process.env.PATH ?? ""}` };
  const sub = runCli(["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--include", "sub-02", "--csttool", STANDIN, "--skip-disk-check", "--time", "1h", "--mem", "2G", "--no-profile", "--json"], { env });
  expect(sub.code, sub.stderr).toBe(EXIT.OK);
  const plan = path.join(out, ".cst-batch", "plan.jsonl");
  const one = startCli(["run-one", "--plan", plan, "--index", "0"], {
    env: { ...env, CSTTOOL_STANDIN_BEHAVIOR: "hang", SLURM_ARRAY_JOB_ID: "1001", SLURM_ARRAY_TASK_ID: "0", SLURM_JOB_ID: "1002" },
  });
  const key = readCurrentPlan(out).tasks[0]!.key;
  await waitFor(() => existsSync(path.join(out, key, "_work", "attempt.json")));
  await new Promise((r) => setTimeout(r, 500));
  one.child.kill("SIGTERM");
  const r = await one.done;
  expect(r.code, r.stderr).toBe(EXIT.TIMEOUT_OR_KILLED);
  const failed = path.join(out, key, "_failed_attempts");
  const [rec] = readdirSync(failed);
  expect(rec).toMatch(new RegExp(`_${expectCategory}$`));
  return { dir, out, bin, env, key, failed };
}

describe("the scheduler's verdict corrects run-one's (built CLI, sacct faked)", () => {
  it("a walltime kill without the warning signal: run-one records CANCELLED, sacct says TIMEOUT; status and collect show TIMEOUT, the record keeps run-one's CANCELLED as observed, and resubmit --category TIMEOUT --time-factor 2 doubles the time", async () => {
    const s = await studyStoppedBySigterm("cst-verdict-timeout-");
    writeFileSync(path.join(s.bin, "sacct.out"), "1001_0|1002|TIMEOUT|0:0|01:00:03||localhost\n1001_0.batch|1002.batch|CANCELLED|0:15|01:00:03|2936K|localhost\n");

    const st = runCli(["status", "--out", s.out, "--json"], { env: s.env });
    expect(st.code, st.stderr).toBe(EXIT.OK);
    const row = JSON.parse(st.stdout).tasks.find((t: { key: string }) => t.key === s.key);
    expect(row).toMatchObject({ state: "failed", category: "TIMEOUT" });
    const [dirName] = readdirSync(s.failed);
    expect(dirName).toMatch(/_TIMEOUT$/);
    const rec = readJson<{ category: string; recorded_by: string; observed: { category: string; recorded_by: string } | null }>(path.join(s.failed, dirName!, "attempt.json"));
    expect(rec).toMatchObject({ category: "TIMEOUT", recorded_by: "scheduler", observed: { category: "CANCELLED", recorded_by: "run-one" } });

    const col = runCli(["collect", "--out", s.out, "--json"], { env: s.env });
    expect(col.code, col.stderr).not.toBe(EXIT.USAGE);
    const summary = readJson<{ by_category: Record<string, number> }>(path.join(s.out, "batch_summary.json"));
    expect(summary.by_category).toEqual({ TIMEOUT: 1 });

    const rs = runCli(["resubmit", "--out", s.out, "--category", "TIMEOUT", "--time-factor", "2", "--no-profile", "--json"], { env: s.env });
    expect(rs.code, rs.stderr).toBe(EXIT.OK);
    const j = JSON.parse(rs.stdout);
    expect(j.rerun).toEqual([s.key]);
    expect(j.groups).toHaveLength(1);
    expect(j.groups[0]).toMatchObject({ label: "TIMEOUT: time x2", time_seconds: 7200, result: "submitted" });
  }, 240_000);

  it("a requeued element (sacct PENDING again after run-one was stopped) is pending, never failed, and resubmit selects nothing", async () => {
    const s = await studyStoppedBySigterm("cst-verdict-requeue-");
    writeFileSync(path.join(s.bin, "sacct.out"), "1001_0|1002|PENDING|0:0|00:00:00||None assigned\n");
    const st = runCli(["status", "--out", s.out, "--json"], { env: s.env });
    expect(st.code, st.stderr).toBe(EXIT.OK);
    const row = JSON.parse(st.stdout).tasks.find((t: { key: string }) => t.key === s.key);
    expect(row).toMatchObject({ state: "pending-in-queue" });
    expect(row.reason).toContain("requeued by the scheduler");
    for (const args of [["--failed"], [], ["--category", "CANCELLED"]]) {
      const rs = runCli(["resubmit", "--out", s.out, ...args, "--no-profile", "--json"], { env: s.env });
      expect(rs.code, rs.stderr).toBe(EXIT.OK);
      expect(JSON.parse(rs.stdout)).toMatchObject({ kind: "nothing-to-do", rerun: [] });
    }
  }, 240_000);
});

describe("run-one asks the scheduler why a SIGTERM came (built CLI, scontrol faked)", () => {
  it("requeued after a node failure (JobState=PENDING, Restarts above SLURM_RESTART_COUNT): NODE_FAIL, requeued by the scheduler; status shows it queued, resubmit leaves it", async () => {
    const s = await studyStoppedBySigterm("cst-stop-requeue-", "JobId=1002 ArrayJobId=1001 ArrayTaskId=0 JobName=cst-batch JobState=PENDING Reason=BeginTime Dependency=(null) Requeue=1 Restarts=1 BatchFlag=1\n", "NODE_FAIL");
    const [dirName] = readdirSync(s.failed);
    const rec = readJson<{ category: string; message: string; recorded_by: string }>(path.join(s.failed, dirName!, "attempt.json"));
    expect(rec).toMatchObject({ category: "NODE_FAIL", recorded_by: "run-one" });
    expect(rec.message).toMatch(/^requeued by the scheduler \(node failure\)/);
    expect(rec.message).toContain("JobState=PENDING");
    writeFileSync(path.join(s.bin, "sacct.out"), "1001_0|1002|PENDING|0:0|00:00:00||None assigned\n");
    const st = JSON.parse(runCli(["status", "--out", s.out, "--json"], { env: s.env }).stdout);
    expect(st.tasks[0]).toMatchObject({ state: "pending-in-queue" });
    const rs = runCli(["resubmit", "--out", s.out, "--failed", "--no-profile", "--json"], { env: s.env });
    expect(JSON.parse(rs.stdout)).toMatchObject({ kind: "nothing-to-do" });
  }, 240_000);

  it("the walltime without a warning signal (JobState=TIMEOUT): run-one records TIMEOUT itself", async () => {
    await studyStoppedBySigterm("cst-stop-timeout-", "JobId=1002 ArrayJobId=1001 ArrayTaskId=0 JobState=TIMEOUT Reason=TimeLimit Restarts=0\n", "TIMEOUT");
  }, 240_000);

  it("a user's scancel (JobState=CANCELLED) stays CANCELLED", async () => {
    await studyStoppedBySigterm("cst-stop-cancel-", "JobId=1002 ArrayJobId=1001 ArrayTaskId=0 JobState=CANCELLED Reason=None Restarts=0\n", "CANCELLED");
  }, 240_000);
});

