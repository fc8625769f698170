import { describe, expect, it } from "vitest";
import { elementIdOf, parseElementId } from "../../../src/status/derive.js";
import { elementKey, elementState, jobSequence, querySchedulerView } from "../../../src/status/scheduler-view.js";
import type { Submission } from "../../../src/schemas/study-records.js";
import { ACCOUNTING_DISABLED, fakeRunner, fixture, ok } from "./helpers.js";

function sub(id: string, scheduler: Submission["scheduler"], jobIds: string[]): Submission {
  return {
    schema_version: 1,
    kind: "cst-batch-submission",
    submission_id: id,
    created_at: "2026-01-03T10:00:00.000Z",
    scheduler,
    plan_id: "p",
    plan_path: "/p.json",
    command_line: [],
    chunks: [[0]],
    shards: jobIds.map((j, i) => ({ shard: i, first_chunk: 0, count: 1, job_id: j, script: "", submit_argv: [] })),
    collect: null,
    resources: {},
    dry_run: false,
  };
}

describe("job and element ids", () => {
  it("reduces every id form to its sequence", () => {
    for (const [id, seq] of [["12", "12"], ["12_4", "12"], ["12_[3-5%2]", "12"], ["48[].server", "48"], ["48[3].server", "48"], ["1235.pbs01", "1235"]]) {
      expect(jobSequence(id!)).toBe(seq);
    }
    expect(elementKey("48[].server", 3)).toBe(elementKey("48", 3));
  });

  it("names an element as run-one records it (SLURM_ARRAY_JOB_ID_TASK_ID, PBS_JOBID) and parses it back", () => {
    expect(elementIdOf("12", 4, 6)).toBe("12_4");
    expect(elementIdOf("48[].server", 3, 6)).toBe("48[3].server");
    expect(elementIdOf("1235.pbs01", 0, 1)).toBe("1235.pbs01");
    expect(parseElementId("12_4")).toEqual({ jobId: "12", arrayIndex: 4 });
    expect(parseElementId("48[3].server")).toEqual({ jobId: "48[].server", arrayIndex: 3 });
    expect(parseElementId("1235.pbs01")).toEqual({ jobId: "1235.pbs01", arrayIndex: null });
  });
});

describe("querySchedulerView", () => {
  it("asks sacct once for all submissions' arrays and keys every element (recorded output)", async () => {
    const run = fakeRunner({ sacct: ok(fixture("slurm/sacct_done.txt") + fixture("slurm/sacct_killed.txt")) });
    const view = await querySchedulerView([sub("a", "slurm", ["3"]), sub("b", "slurm", ["1186"])], { run });
    expect(run.calls).toHaveLength(1);
    expect(run.calls[0]).toEqual(["sacct", "-P", "-n", "-j", "3,1186", "-o", "JobID,JobIDRaw,State,ExitCode,Elapsed,MaxRSS,NodeList"]);
    expect(view.sources).toEqual([expect.objectContaining({ scheduler: "slurm", source: "sacct" })]);
    expect(elementState(view, "3", 2, 6)).toMatchObject({ state: "failed", exitCode: 3 });
    expect(elementState(view, "1186", 0, 4)).toMatchObject({ state: "cancelled", rawState: "CANCELLED by 0" });
    expect(elementState(view, "1186", 1, 4)).toMatchObject({ state: "failed", exitCode: 0, signal: 9, elapsedSeconds: 102, maxRssKb: 111240 });
    expect(elementState(view, "1186", 2, 4)).toBeNull(); // cancelled while pending: Slurm keeps no row for it
    expect(view.jobs.has("1186")).toBe(true);
  });

  it("the pending remainder sacct still lists (12_[1,3%1]) does not hide an element that runs", async () => {
    const run = fakeRunner({ sacct: ok(fixture("slurm/sacct_pending_remainder.txt")) });
    const view = await querySchedulerView([sub("a", "slurm", ["1186"])], { run });
    expect(elementState(view, "1186", 1, 4)?.state).toBe("running");
    expect(elementState(view, "1186", 3, 4)?.state).toBe("pending");
  });

  it("without accounting: one failed sacct, then one squeue -t all for everything", async () => {
    const run = fakeRunner({ sacct: ACCOUNTING_DISABLED, squeue: ok(fixture("slurm/squeue_running.txt")) });
    const view = await querySchedulerView([sub("a", "slurm", ["3"]), sub("b", "slurm", ["4"])], { run });
    expect(run.calls.map((c) => c[0])).toEqual(["sacct", "squeue"]);
    expect(run.calls[1]).toEqual(["squeue", "-h", "-r", "-t", "all", "-j", "3,4", "-o", "%i|%A|%F|%K|%T|%r|%M|%N"]);
    expect(view.sources[0]).toMatchObject({ source: "squeue", note: expect.stringContaining("accounting storage is disabled") });
    expect(elementState(view, "3", 4, 6)).toMatchObject({ state: "pending", reason: "JobArrayTaskLimit" });
    expect(elementState(view, "3", 0, 6)?.state).toBe("running");
  });

  it("squeue mid-run (recorded): the element cancelled while pending is simply absent", async () => {
    const run = fakeRunner({ sacct: ACCOUNTING_DISABLED, squeue: ok(fixture("slurm/squeue_cancelled_pending.txt")) });
    const view = await querySchedulerView([sub("a", "slurm", ["1186"])], { run });
    expect([0, 1, 2, 3].map((i) => elementState(view, "1186", i, 4)?.state ?? null)).toEqual(["cancelled", "running", null, "pending"]);
  });

  it("squeue's 'Invalid job id' (every job gone from the queue) is an empty answer, not an error", async () => {
    const run = fakeRunner({
      sacct: ACCOUNTING_DISABLED,
      squeue: { kind: "failed", exitCode: 1, signal: null, stdout: "", stderr: "slurm_load_jobs error: Invalid job id specified\n" },
    });
    const view = await querySchedulerView([sub("a", "slurm", ["77"])], { run });
    expect(view.sources[0]).toMatchObject({ source: "squeue" });
    expect(view.elements.size).toBe(0);
  });

  it("PBS Pro: one qstat -f -x -t for every array; subjobs 2001[3].pbs01 map to the array 2001[].pbs01", async () => {
    const run = fakeRunner({ qstat: ok(fixture("pbs/qstat_f_x_t_killed.txt")) });
    const view = await querySchedulerView([sub("a", "pbs", ["2001[].pbs01"])], { run });
    expect(run.calls).toEqual([["qstat", "-f", "-x", "-t", "2001[].pbs01"]]);
    expect(elementState(view, "2001[].pbs01", 1, 4)?.state).toBe("timeout");
    expect(elementState(view, "2001[].pbs01", 2, 4)?.state).toBe("out_of_memory");
  });

  it("a scheduler that cannot be asked is reported, not thrown", async () => {
    const run = fakeRunner({ sacct: ACCOUNTING_DISABLED, squeue: { kind: "timeout", timeoutMs: 30000, stdout: "", stderr: "" } });
    const view = await querySchedulerView([sub("a", "slurm", ["3"])], { run });
    expect(view.sources[0]).toMatchObject({ source: "none", note: expect.stringContaining("did not answer") });
  });

  it("splits a very long id list, still far fewer calls than tasks", async () => {
    const run = fakeRunner({ sacct: ok("") });
    const ids = Array.from({ length: 12 }, (_, i) => String(100 + i));
    await querySchedulerView([sub("a", "slurm", ids)], { run, idsPerCommand: 5 });
    expect(run.calls).toHaveLength(3);
  });
});
