import { describe, expect, it } from "vitest";
import { CstError } from "../../../src/errors.js";
import {
  mapSlurmState,
  parseSlurmJobId,
  parseSlurmSacct,
  parseSlurmSqueue,
  slurmAccountingArgv,
  slurmBackend,
  slurmLogPattern,
  slurmStatusArgv,
  slurmSubmitArgv,
} from "../../../src/schedulers/slurm.js";
import { plainArrayContext } from "../templates/contexts.js";
import { fixture } from "./fixtures.js";

describe("Slurm submit argv and job ids", () => {
  it("submits with --parsable and an afterany dependency on every given job", () => {
    expect(slurmSubmitArgv("/o/s.sh")).toEqual(["sbatch", "--parsable", "/o/s.sh"]);
    expect(slurmSubmitArgv("/o/c.sh", { dependsOn: ["12", "15"] })).toEqual([
      "sbatch",
      "--parsable",
      "--dependency=afterany:12:15",
      "/o/c.sh",
    ]);
  });

  it("parses `12`, `12;cluster` and ignores warning lines", () => {
    expect(parseSlurmJobId("12\n")).toBe("12");
    expect(parseSlurmJobId("4711;cstlocal\n")).toBe("4711");
    expect(parseSlurmJobId("sbatch: warning: something\n99\n")).toBe("99");
    expect(() => parseSlurmJobId("sbatch: error: Batch job submission failed\n")).toThrow(CstError);
  });

  it("queries every element incl. finished ones, and sacct with steps", () => {
    expect(slurmStatusArgv(["3", "4"])).toEqual(["squeue", "-h", "-r", "-t", "all", "-j", "3,4", "-o", "%i|%A|%F|%K|%T|%r|%M|%N"]);
    expect(slurmAccountingArgv(["3"])).toContain("JobID,JobIDRaw,State,ExitCode,Elapsed,MaxRSS,NodeList");
    expect(slurmAccountingArgv(["3"])).not.toContain("-X");
  });
});

describe("squeue parsing (recorded on the local test cluster, Slurm 22.05)", () => {
  it("expands the pending remainder 3_[2-5%2] and keeps running elements", () => {
    const rows = parseSlurmSqueue(fixture("slurm/squeue_running.txt"));
    const array = rows.filter((r) => r.jobId === "3");
    expect(array.map((r) => [r.arrayIndex, r.state])).toEqual([
      [2, "pending"],
      [3, "pending"],
      [4, "pending"],
      [5, "pending"],
      [0, "running"],
      [1, "running"],
    ]);
    expect(array[0]!.reason).toBe("JobArrayTaskLimit");
    const collect = rows.find((r) => r.jobId === "4")!;
    expect(collect).toMatchObject({ arrayIndex: null, state: "pending", reason: "Dependency" });
  });

  it("reports finished, failed and cancelled elements", () => {
    const rows = parseSlurmSqueue(fixture("slurm/squeue_done.txt"));
    expect(rows.find((r) => r.jobId === "3" && r.arrayIndex === 2)).toMatchObject({ state: "failed", reason: "NonZeroExitCode", elapsedSeconds: 4, node: "localhost" });
    expect(rows.find((r) => r.jobId === "6")).toMatchObject({ state: "cancelled", arrayIndex: null });
    expect(rows.filter((r) => r.jobId === "3" && r.state === "completed")).toHaveLength(5);
  });

  it("expands a held 0-9%3 array into ten pending elements", () => {
    const rows = parseSlurmSqueue(fixture("slurm/squeue_held.txt"));
    expect(rows.map((r) => r.arrayIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rows[0]!.reason).toBe("JobHeldUser");
  });

  it("skips lines it does not understand", () => {
    expect(parseSlurmSqueue("garbage\n\n12_x|1|1|x|RUNNING|None|0:01|n\n")).toEqual([]);
  });
});

describe("sacct parsing (recorded, with steps)", () => {
  it("one record per element, exit code and signal from the job or its batch step", () => {
    const rows = parseSlurmSacct(fixture("slurm/sacct_done.txt"));
    expect(rows).toHaveLength(8);
    expect(rows.find((r) => r.jobId === "3" && r.arrayIndex === 2)).toMatchObject({ state: "failed", exitCode: 3, signal: null });
    expect(rows.find((r) => r.jobId === "6")).toMatchObject({ state: "cancelled", rawState: "CANCELLED by 0", signal: 15, arrayIndex: null });
    expect(rows.find((r) => r.jobId === "3" && r.arrayIndex === 5)).toMatchObject({ state: "completed", exitCode: 0, elapsedSeconds: 4 });
  });

  it("takes MaxRSS from the .batch step", () => {
    const rows = parseSlurmSacct(fixture("slurm/sacct_mem.txt"));
    expect(rows.map((r) => [r.arrayIndex, r.maxRssKb])).toEqual([
      [0, 87004],
      [1, 87116],
    ]);
  });

  it("a recorded --time=1 job: TIMEOUT, the batch step's SIGTERM and MaxRSS", () => {
    expect(parseSlurmSacct(fixture("slurm/sacct_timeout.txt"))).toEqual([
      { jobId: "5", arrayIndex: null, state: "timeout", rawState: "TIMEOUT", reason: null, exitCode: 0, signal: 15, elapsedSeconds: 87, maxRssKb: 2936, node: "localhost" },
    ]);
    expect(parseSlurmSqueue(fixture("slurm/squeue_timeout.txt"))[0]).toMatchObject({ state: "timeout", reason: "TimeLimit", elapsedSeconds: 87 });
  });

  it("running elements have no exit code yet", () => {
    const rows = parseSlurmSacct(fixture("slurm/sacct_mem_running.txt"));
    expect(rows.every((r) => r.state === "running" && r.exitCode === null)).toBe(true);
  });

  it("an OUT_OF_MEMORY step turns a FAILED job into out_of_memory; pending ranges expand", () => {
    const text = [
      "20_1|21|FAILED|0:125|00:01:00||n1",
      "20_1.batch|21.batch|OUT_OF_MEMORY|0:125|00:01:00|4194304K|n1",
      "20_1.extern|21.extern|COMPLETED|0:0|00:01:00|1024K|n1",
      "20_[2-4%2]|20|PENDING|0:0|00:00:00||None assigned",
      "22|22|TIMEOUT|0:0|02:00:10||n2",
      "22.batch|22.batch|CANCELLED|0:15|02:00:11|123M|n2",
    ].join("\n");
    const rows = parseSlurmSacct(text);
    expect(rows.find((r) => r.arrayIndex === 1)).toMatchObject({ state: "out_of_memory", maxRssKb: 4194304, signal: 125 });
    expect(rows.filter((r) => r.state === "pending").map((r) => r.arrayIndex)).toEqual([2, 3, 4]);
    expect(rows.find((r) => r.jobId === "22")).toMatchObject({ state: "timeout", maxRssKb: 123 * 1024, elapsedSeconds: 7210, signal: 15 });
  });
});

describe("Slurm state words", () => {
  it.each([
    ["PENDING", "pending"],
    ["RUNNING", "running"],
    ["COMPLETING", "running"],
    ["COMPLETED", "completed"],
    ["FAILED", "failed"],
    ["CANCELLED by 1000", "cancelled"],
    ["TIMEOUT", "timeout"],
    ["OUT_OF_MEMORY", "out_of_memory"],
    ["NODE_FAIL", "node_fail"],
    ["PREEMPTED", "preempted"],
    ["BOOT_FAIL", "failed"],
    ["SOMETHING_NEW", "unknown"],
  ])("%s -> %s", (raw, state) => {
    expect(mapSlurmState(raw)).toBe(state);
  });
});

describe("Slurm rendering rules", () => {
  it("doubles % in the log folder and rejects a backslash", () => {
    expect(slurmLogPattern("/a/100%", "x_%A.out")).toBe("/a/100%%/x_%A.out");
    expect(() => slurmLogPattern("/a\\b", "x")).toThrow(/backslash/);
  });

  it("rejects a job name with a newline, naming it", () => {
    expect(() => slurmBackend.renderArrayScript(plainArrayContext({ jobName: "a\nb" }))).toThrow(/job name.*line break/);
  });

  it("rejects a setup line or scheduler arg spanning lines", () => {
    expect(() => slurmBackend.renderArrayScript(plainArrayContext({ setupLines: ["a\nb"] }))).toThrow(/setup line/);
    expect(() => slurmBackend.renderArrayScript(plainArrayContext({ schedulerArgs: ["--x\n--y"] }))).toThrow(/--scheduler-arg/);
  });

  it("rejects relative paths and bad numbers", () => {
    expect(() => slurmBackend.renderArrayScript(plainArrayContext({ workDir: "rel/dir" }))).toThrow(/absolute/);
    expect(() => slurmBackend.renderArrayScript(plainArrayContext({ arraySize: 0 }))).toThrow(/array size/);
    expect(() => slurmBackend.renderArrayScript(plainArrayContext({ throttle: 0 }))).toThrow(/--max-running/);
    expect(() => slurmBackend.renderArrayScript(plainArrayContext({ timeoutMinutes: 0 }))).toThrow(/--timeout-minutes/);
  });

  it("omits --signal when the warning is 0", () => {
    expect(slurmBackend.renderArrayScript(plainArrayContext({ signalWarningSeconds: 0 }))).not.toContain("--signal");
  });
});
