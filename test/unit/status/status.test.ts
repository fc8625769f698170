import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect } from "../../../src/collect/collect.js";
import { readStatus } from "../../../src/status/status.js";
import { lockFile, makeTempOut, writeDone, writeFailedAttempt, writePlan } from "../../helpers/collect-fixtures.js";
import { LOCK_OWNER, LockHolders } from "../../helpers/collect-lock.js";
import { ACCOUNTING_DISABLED, fakeRunner, fixture, ok, writeSubmission } from "./helpers.js";

let out: string;
let cleanup: () => void;
const locks = new LockHolders();
beforeEach(() => {
  ({ out, cleanup } = makeTempOut("cst-status-"));
});
afterEach(async () => {
  await locks.stopAll();
  cleanup();
});

/** Hand-written in Slurm's sacct -P layout (no cgroups on the test cluster to record a real one): the job state OUT_OF_MEMORY, ExitCode 0:125. */
const SACCT_OOM = "21_0|22|OUT_OF_MEMORY|0:125|00:00:30||node1\n21_0.batch|22.batch|OUT_OF_MEMORY|0:125|00:00:30|4100000K|node1\n";

function attemptsOf(taskDir: string): Array<{ dir: string; record: any }> {
  const dir = path.join(out, taskDir, "_failed_attempts");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((d) => ({ dir: d, record: JSON.parse(readFileSync(path.join(dir, d, "attempt.json"), "utf8")) }));
}

function writeWork(taskDir: string, jobId: string, host = "node02", pendingCategory: string | null = null): void {
  const dir = path.join(out, taskDir, "_work");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "attempt.json"),
    JSON.stringify({ schema_version: 1, kind: "cst-batch-attempt-start", subject: taskDir.split("/")[0], session: null, task_key: taskDir, config_hash: "cfg-1", plan_id: "plan-abc123", started_at: "2026-01-03T10:01:00.000Z", host, pid: 999, job_id: jobId, pending_category: pendingCategory }),
  );
}

describe("readStatus: records + one scheduler query, contradictions explained and written back", () => {
  it("a recorded real array: cancelled with a record, SIGKILLed without one, cancelled while pending, done", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }, { subject: "sub-03" }, { subject: "sub-04" }]);
    const [t0, , , t3] = plan.tasks;
    writeSubmission(out, plan, { jobId: "1186" });
    writeFailedAttempt(out, t0!, { category: "CANCELLED", jobId: "1186_0", finishedAt: "2026-01-03T10:02:00.000Z" });
    writeWork("sub-02", "1186_1");
    writeDone(out, t3!, { jobId: "1186_3", finishedAt: "2026-01-03T10:03:00.000Z" });
    const run = fakeRunner({ sacct: ok(fixture("slurm/sacct_killed.txt")) });

    const r = await readStatus(out, { run });
    expect(run.calls).toHaveLength(1);
    const by = Object.fromEntries(r.rows.map((row) => [row.key, row]));
    expect(by["sub-01"]).toMatchObject({ state: "failed", category: "CANCELLED" });
    expect(by["sub-02"]).toMatchObject({ state: "failed", category: "KILLED", maxRssKb: 111240 });
    expect(by["sub-03"]).toMatchObject({ state: "not-run", reason: expect.stringContaining("cancelled before it started") });
    expect(by["sub-04"]).toMatchObject({ state: "done" });
    // sub-02's dead attempt was filed with the scheduler's verdict, as run-one's recovery would have, knowing more
    expect(existsSync(path.join(out, "sub-02", "_work"))).toBe(false);
    const [filed] = attemptsOf("sub-02");
    expect(filed!.dir).toMatch(/_KILLED$/);
    expect(filed!.record).toMatchObject({ recorded_by: "scheduler", category: "KILLED", job_id: "1186_1", max_rss_kb: 111240, duration_seconds: 102, host: "node02", pid: 999 });
    expect(r.writeBacks).toEqual([{ key: "sub-02", kind: "archive-work", outcome: expect.objectContaining({ kind: "written" }) }]);

    const again = await readStatus(out, { run });
    expect(again.writeBacks).toEqual([]);
    expect(attemptsOf("sub-02")).toHaveLength(1);
    expect(again.rows[1]).toMatchObject({ state: "failed", category: "KILLED" });
  });

  it("a walltime kill that left no record becomes a TIMEOUT record once, and collect's summary and CSV carry it", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "5" });
    const run = fakeRunner({ sacct: ok(fixture("slurm/sacct_timeout.txt")) });
    const r = await readStatus(out, { run });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "TIMEOUT", jobId: "5_0", attempts: 1 });
    const [rec] = attemptsOf("sub-01");
    expect(rec!.dir).toMatch(/_TIMEOUT$/);
    expect(rec!.record).toMatchObject({ recorded_by: "scheduler", category: "TIMEOUT", job_id: "5_0", duration_seconds: 87, max_rss_kb: 2936 });
    expect(rec!.record.message).toContain("TIMEOUT");
    await readStatus(out, { run });
    await readStatus(out, { run });
    expect(attemptsOf("sub-01")).toHaveLength(1);

    const c = await collect(out);
    expect(c.summary.tasks[0]).toMatchObject({ status: "failed", category: "TIMEOUT", max_rss_kb: 2936, duration_seconds: 87 });
    expect(c.summary.by_category).toEqual({ TIMEOUT: 1 });
    const csv = readFileSync(path.join(out, "batch_metrics.csv"), "utf8");
    expect(csv).toMatch(/sub-01,,failed,TIMEOUT,87,/);
  });

  it("OUT_OF_MEMORY from the scheduler (parser fixture: no cgroups on the test cluster)", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "21" });
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok(SACCT_OOM) }) });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "OUT_OF_MEMORY", maxRssKb: 4100000 });
    expect(r.byCategory).toEqual({ OUT_OF_MEMORY: 1 });
  });

  it("a KILLED record from run-one's recovery is refined to the scheduler's TIMEOUT, once, folder renamed", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "5" });
    const rec = writeFailedAttempt(out, plan.tasks[0]!, { category: "KILLED", jobId: "5", finishedAt: "2026-01-03T11:00:00.000Z" });
    const p = path.join(out, "sub-01", "_failed_attempts", rec.attempt_id, "attempt.json");
    writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, "utf8")), recorded_by: "recovery" }));
    const run = fakeRunner({ sacct: ok(fixture("slurm/sacct_timeout.txt")) });
    const r = await readStatus(out, { run });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "TIMEOUT" });
    const [only, ...more] = attemptsOf("sub-01");
    expect(more).toEqual([]);
    expect(only!.dir).toMatch(/_TIMEOUT$/);
    expect(only!.record).toMatchObject({ category: "TIMEOUT", recorded_by: "scheduler", attempt_id: only!.dir });
    expect((await readStatus(out, { run })).writeBacks).toEqual([]);
  });

  it("a chunk killed at the walltime: the task it was on failed, the ones after it not run", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }, { subject: "sub-03" }]);
    writeSubmission(out, plan, { jobId: "5", chunks: [[0, 1, 2]] });
    writeDone(out, plan.tasks[0]!, { jobId: "5_0", finishedAt: "2026-01-03T10:05:00.000Z" });
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok(fixture("slurm/sacct_timeout.txt")) }) });
    expect(r.rows.map((x) => [x.key, x.state, x.category])).toEqual([
      ["sub-01", "done", null],
      ["sub-02", "failed", "TIMEOUT"],
      ["sub-03", "not-run", null],
    ]);
    expect(attemptsOf("sub-03")).toEqual([]);
  });

  it("never writes when a newer record exists or the subject is locked by a live run", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }]);
    writeSubmission(out, plan, { jobId: "5", chunks: [[0], [1]] });
    writeFailedAttempt(out, plan.tasks[0]!, { category: "PIPELINE_FAILED", jobId: "77_0", finishedAt: "2026-01-03T12:00:00.000Z" });
    await locks.hold(lockFile(out, plan.tasks[1]!), LOCK_OWNER);
    mkdirSync(path.join(out, "sub-02", "_work"), { recursive: true });
    const timeoutForBoth = "5_0|6|TIMEOUT|0:0|00:01:27||localhost\n5_1|7|TIMEOUT|0:0|00:01:27||localhost\n";
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok(timeoutForBoth) }) });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "PIPELINE_FAILED" });
    expect(r.rows[1]).toMatchObject({ state: "running" });
    expect(attemptsOf("sub-01")).toHaveLength(1);
    expect(attemptsOf("sub-02")).toHaveLength(0);
  });

  it("queued elements (squeue fallback) are pending-in-queue with the scheduler's reason; unsubmitted ones never-submitted", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }, { subject: "sub-03" }, { subject: "sub-04" }, { subject: "sub-05" }]);
    writeSubmission(out, plan, { jobId: "3", chunks: [[0], [1], [2], [3]] });
    const run = fakeRunner({ sacct: ACCOUNTING_DISABLED, squeue: ok(fixture("slurm/squeue_running.txt")) });
    const r = await readStatus(out, { run });
    expect(run.calls.map((c) => c[0])).toEqual(["sacct", "squeue"]);
    expect(r.rows.map((x) => x.state)).toEqual(["running", "running", "pending-in-queue", "pending-in-queue", "never-submitted"]);
    expect(r.rows[2]!.reason).toContain("JobArrayTaskLimit");
  });

  it("an element that exited 75 (subject locked by another run) is not a failure of the subject", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "8" });
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok("8_0|9|FAILED|75:0|00:00:01||localhost\n") }) });
    expect(r.rows[0]).toMatchObject({ state: "not-run" });
    expect(attemptsOf("sub-01")).toEqual([]);
  });

  it("a lock held after its owner on this host died is stale (orphans hold it)", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    const pid = Number(dead.stdout.trim());
    await locks.hold(lockFile(out, plan.tasks[0]!), { ...LOCK_OWNER, host: os.hostname(), pid, since: new Date().toISOString() });
    mkdirSync(path.join(out, "sub-01", "_work"), { recursive: true });
    const r = await readStatus(out, { queryScheduler: false });
    expect(r.rows[0]).toMatchObject({ state: "stale", reason: expect.stringContaining("is dead") });
  });

  it("a dead attempt without a scheduler verdict is stale and left for run-one's recovery", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeWork("sub-01", "1234_0", "node02", "TIMEOUT");
    const r = await readStatus(out, { queryScheduler: false });
    expect(r.rows[0]).toMatchObject({ state: "stale", category: "TIMEOUT" });
    expect(existsSync(path.join(out, "sub-01", "_work", "attempt.json"))).toBe(true);
    void plan;
  });

  it("a finished study asks the scheduler nothing", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "5" });
    writeDone(out, plan.tasks[0]!, { jobId: "5_0", finishedAt: "2026-01-03T10:05:00.000Z" });
    const run = fakeRunner({});
    const r = await readStatus(out, { run });
    expect(run.calls).toEqual([]);
    expect(r.totals).toMatchObject({ done: 1, total: 1 });
  });
});
