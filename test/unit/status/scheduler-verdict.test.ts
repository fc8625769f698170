import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect } from "../../../src/collect/collect.js";
import { selectRerun } from "../../../src/resubmit/select.js";
import { readStatus } from "../../../src/status/status.js";
import { makeTempOut, writeFailedAttempt, writePlan } from "../../helpers/collect-fixtures.js";
import { fakeRunner, fixture, ok, writeSubmission } from "./helpers.js";

let out: string;
let cleanup: () => void;
beforeEach(() => {
  ({ out, cleanup } = makeTempOut("cst-verdict-"));
});
afterEach(() => cleanup());

function attemptsOf(taskDir: string): Array<{ dir: string; record: any }> {
  const dir = path.join(out, taskDir, "_failed_attempts");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((d) => ({ dir: d, record: JSON.parse(readFileSync(path.join(dir, d, "attempt.json"), "utf8")) }));
}

/** Recorded on the test Slurm in CST_SLURM_MEMORY=overmemorykill mode (fixtures README): FAILED 0:9, MaxRSS 507560K on .batch, --mem 250M. */
const SACCT_OVER_MEMORY_KILL = fixture("slurm/sacct_overmemorykill.txt");
const OVER_MEMORY_KILL_RESOURCES = { array: { time_seconds: 300, mem_mib: 250 } };

describe("the scheduler's verdict corrects run-one's CANCELLED/KILLED record", () => {
  it("run-one said CANCELLED (SIGTERM at the walltime, no warning signal), sacct says TIMEOUT: the record becomes TIMEOUT with run-one's kept as observed; collect and resubmit --category TIMEOUT follow", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "5" });
    writeFailedAttempt(out, plan.tasks[0]!, { category: "CANCELLED", jobId: "5_0", finishedAt: "2026-01-03T10:02:00.000Z", message: "stopped by SIGTERM" });
    const run = fakeRunner({ sacct: ok(fixture("slurm/sacct_timeout.txt").replace(/^5\|5\|/m, "5_0|5|").replace(/^5\.batch\|/m, "5_0.batch|")) });

    const r = await readStatus(out, { run });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "TIMEOUT" });
    expect(r.writeBacks).toEqual([{ key: "sub-01", kind: "refine", outcome: expect.objectContaining({ kind: "written", category: "TIMEOUT" }) }]);
    const [only, ...more] = attemptsOf("sub-01");
    expect(more).toEqual([]);
    expect(only!.dir).toMatch(/_TIMEOUT$/);
    expect(only!.record).toMatchObject({
      category: "TIMEOUT",
      recorded_by: "scheduler",
      next_step: expect.stringContaining("--time-factor 2"),
      observed: { category: "CANCELLED", recorded_by: "run-one", message: "stopped by SIGTERM" },
    });
    expect(only!.record.message).toContain("TIMEOUT");

    // idempotent, and the summary / resubmit selection read the corrected cause
    expect((await readStatus(out, { run })).writeBacks).toEqual([]);
    const c = await collect(out);
    expect(c.summary.by_category).toEqual({ TIMEOUT: 1 });
    const again = await readStatus(out, { run, writeBack: false });
    const tasks = new Map(plan.tasks.map((t) => [t.index, t]));
    const sel = selectRerun(again.rows, tasks, { failedOnly: false, categories: ["TIMEOUT"], subjects: null, retry: {} });
    expect(sel.rerun).toEqual([0]);
    expect(sel.categoryOf.get(0)).toBe("TIMEOUT");
  });

  it("run-one said KILLED, sacct says FAILED 0:9 with MaxRSS above the submission's --mem (OverMemoryKill, recorded): OUT_OF_MEMORY", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "608", resources: OVER_MEMORY_KILL_RESOURCES });
    writeFailedAttempt(out, plan.tasks[0]!, { category: "KILLED", jobId: "608_0", finishedAt: "2026-01-03T10:02:00.000Z" });
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok(SACCT_OVER_MEMORY_KILL) }) });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "OUT_OF_MEMORY" });
    expect(attemptsOf("sub-01")[0]!.record).toMatchObject({ category: "OUT_OF_MEMORY", observed: { category: "KILLED" } });
  });

  it("OverMemoryKill killed run-one too (no record, recorded sacct): the dead attempt is filed OUT_OF_MEMORY", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "608", resources: OVER_MEMORY_KILL_RESOURCES });
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok(SACCT_OVER_MEMORY_KILL) }) });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "OUT_OF_MEMORY", maxRssKb: 507560 });
  });

  it("OverMemoryKill killed run-one mid-attempt and accounting lists the one-element array by its job id alone: the dead attempt is still filed OUT_OF_MEMORY", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "608", resources: OVER_MEMORY_KILL_RESOURCES });
    const dir = path.join(out, "sub-01", "_work");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, "attempt.json"),
      JSON.stringify({ schema_version: 1, kind: "cst-batch-attempt-start", subject: "sub-01", session: null, task_key: "sub-01", config_hash: plan.tasks[0]!.config_hash, plan_id: plan.plan_id, started_at: "2026-01-03T10:01:00.000Z", host: "node02", pid: 999, job_id: "608_0", pending_category: null }),
    );
    const sacct = SACCT_OVER_MEMORY_KILL.replace(/^608_0\|/m, "608|").replace(/^608_0\.batch\|/m, "608.batch|");
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok(sacct) }) });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "OUT_OF_MEMORY" });
    expect(attemptsOf("sub-01")[0]!.record).toMatchObject({ category: "OUT_OF_MEMORY" });
  });

  it("cgroup enforcement (recorded sacct OUT_OF_MEMORY 0:125) is OUT_OF_MEMORY without any figure", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "604" });
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok(fixture("slurm/sacct_oom_cgroup.txt")) }) });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "OUT_OF_MEMORY" });
  });

  it("the same FAILED 0:9 below the request stays KILLED; a user's scancel (CANCELLED by 0) stays CANCELLED", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }]);
    writeSubmission(out, plan, { jobId: "608", resources: { array: { time_seconds: 600, mem_mib: 4096 } } });
    writeFailedAttempt(out, plan.tasks[0]!, { category: "KILLED", jobId: "608_0", finishedAt: "2026-01-03T10:02:00.000Z" });
    writeFailedAttempt(out, plan.tasks[1]!, { category: "CANCELLED", jobId: "608_1", finishedAt: "2026-01-03T10:02:00.000Z" });
    const sacct = SACCT_OVER_MEMORY_KILL + "608_1|609|CANCELLED by 0|0:0|00:00:03||localhost\n";
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok(sacct) }) });
    expect(r.rows.map((x) => [x.state, x.category])).toEqual([
      ["failed", "KILLED"],
      ["failed", "CANCELLED"],
    ]);
    expect(r.writeBacks).toEqual([]);
  });

  it("Torque: run-one said CANCELLED, qstat says exit 271 after the whole walltime: TIMEOUT", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "567[].torque01.cluster.example", scheduler: "torque" });
    writeFailedAttempt(out, plan.tasks[0]!, { category: "CANCELLED", jobId: "567[0].torque01.cluster.example", finishedAt: "2026-01-03T10:02:00.000Z" });
    // The layout of the recorded Torque output (torque/qstat_f_recorded_bcgsc.txt), figures of a walltime kill.
    const qstat = [
      "Job Id: 567[0].torque01.cluster.example",
      "    resources_used.mem = 3624kb",
      "    resources_used.walltime = 00:10:02",
      "    job_state = C",
      "    Resource_List.mem = 1024mb",
      "    Resource_List.walltime = 00:10:00",
      "    exec_host = node07/0",
      "    exit_status = 271",
      "    job_array_id = 0",
      "",
    ].join("\n");
    const r = await readStatus(out, { run: fakeRunner({ qstat: ok(qstat) }) });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "TIMEOUT" });
    expect(attemptsOf("sub-01")[0]!.record).toMatchObject({ category: "TIMEOUT", observed: { category: "CANCELLED" } });
  });
});

describe("requeue is not failure", () => {
  it("a record from the element that the scheduler runs again is shown by the live state, never failed, never selected by resubmit", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }]);
    writeSubmission(out, plan, { jobId: "40" });
    writeFailedAttempt(out, plan.tasks[0]!, { category: "CANCELLED", jobId: "40_0", finishedAt: "2026-01-03T10:02:00.000Z" });
    writeFailedAttempt(out, plan.tasks[1]!, { category: "CANCELLED", jobId: "40_1", finishedAt: "2026-01-03T10:02:00.000Z" });
    const sacct = "40_0|41|PENDING|0:0|00:00:00||None assigned\n40_1|42|RUNNING|0:0|00:00:05||localhost\n";
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok(sacct) }) });
    expect(r.rows.map((x) => [x.state, x.category])).toEqual([
      ["pending-in-queue", null],
      ["running", null],
    ]);
    expect(r.rows[0]!.reason).toContain("requeued by the scheduler");
    expect(r.writeBacks).toEqual([]);
    const tasks = new Map(plan.tasks.map((t) => [t.index, t]));
    for (const failedOnly of [false, true]) {
      expect(selectRerun(r.rows, tasks, { failedOnly, categories: null, subjects: null, retry: {} }).rerun).toEqual([]);
    }
    expect(selectRerun(r.rows, tasks, { failedOnly: false, categories: ["CANCELLED"], subjects: null, retry: {} }).rerun).toEqual([]);
  });

  it("sacct still says NODE_FAIL right after the requeue (accounting lags): the live queue's PENDING wins, one squeue for that job only", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }]);
    writeSubmission(out, plan, { jobId: "40" });
    writeFailedAttempt(out, plan.tasks[0]!, { category: "NODE_FAIL", jobId: "40_0", finishedAt: "2026-01-03T10:02:00.000Z", message: "requeued by the scheduler (node failure)" });
    writeFailedAttempt(out, plan.tasks[1]!, { category: "PIPELINE_FAILED", jobId: "40_1", finishedAt: "2026-01-03T10:02:00.000Z" });
    const run = fakeRunner({
      sacct: ok("40_0|41|NODE_FAIL|0:0|00:00:03||localhost\n40_1|42|FAILED|4:0|00:00:03||localhost\n"),
      squeue: ok("40_0|41|40|0|PENDING|BeginTime|0:00|\n"),
    });
    const r = await readStatus(out, { run });
    expect(run.calls.map((c) => c[0])).toEqual(["sacct", "squeue"]);
    expect(r.rows.map((x) => [x.state, x.category])).toEqual([
      ["pending-in-queue", null],
      ["failed", "PIPELINE_FAILED"],
    ]);
    expect(r.rows[0]!.reason).toContain("requeued by the scheduler");
  });

  it("once the requeued element ended NODE_FAIL, run-one's CANCELLED becomes NODE_FAIL, requeued by the scheduler", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "40" });
    writeFailedAttempt(out, plan.tasks[0]!, { category: "CANCELLED", jobId: "40_0", finishedAt: "2026-01-03T10:02:00.000Z" });
    const r = await readStatus(out, { run: fakeRunner({ sacct: ok("40_0|41|NODE_FAIL|0:0|00:00:40||localhost\n") }) });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "NODE_FAIL" });
    const rec = attemptsOf("sub-01")[0]!.record;
    expect(rec).toMatchObject({ category: "NODE_FAIL", observed: { category: "CANCELLED" } });
    expect(rec.message).toMatch(/^requeued by the scheduler: /);
  });
});
