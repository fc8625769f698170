import { describe, expect, it } from "vitest";
import { stopCategory } from "../../../src/failures/scheduler-verdict.js";
import { askStopVerdict } from "../../../src/run/stop-context.js";
import { parseSlurmJobContext } from "../../../src/schedulers/slurm-job-context.js";

const ok = (stdout: string) => async () => ({ kind: "ok" as const, stdout, stderr: "" });

describe("why the scheduler stopped run-one (scontrol show job -o at the stop signal)", () => {
  it("parses JobState, Reason and Restarts from one scontrol line", () => {
    expect(parseSlurmJobContext("JobId=7 JobName=x UserId=a(1) JobState=PENDING Reason=BeginTime Dependency=(null) Requeue=1 Restarts=2 BatchFlag=1")).toEqual({ jobState: "PENDING", reason: "BeginTime", restarts: 2 });
    expect(parseSlurmJobContext("JobId=7 JobState=RUNNING Reason=None Restarts=0")).toEqual({ jobState: "RUNNING", reason: null, restarts: 0 });
    expect(parseSlurmJobContext("slurm_load_jobs error: Invalid job id specified")).toBeNull();
  });

  it("requeued (pending again, REQUEUED, or more restarts than at start) is NODE_FAIL, or PREEMPTED when the reason says so", () => {
    expect(stopCategory({ jobState: "PENDING", reason: "BeginTime", restarts: 1 }, 0)).toEqual({ category: "NODE_FAIL", requeued: true });
    expect(stopCategory({ jobState: "REQUEUED", reason: null, restarts: null }, 0)).toEqual({ category: "NODE_FAIL", requeued: true });
    expect(stopCategory({ jobState: "RUNNING", reason: null, restarts: 2 }, 1)).toEqual({ category: "NODE_FAIL", requeued: true });
    expect(stopCategory({ jobState: "PENDING", reason: "Preemption", restarts: 1 }, 0)).toEqual({ category: "PREEMPTED", requeued: true });
    expect(stopCategory({ jobState: "PREEMPTED", reason: null, restarts: 0 }, 0)).toEqual({ category: "PREEMPTED", requeued: false });
  });

  it("TIMEOUT and NODE_FAIL without requeue name themselves; scancel and a still running job leave the signal's CANCELLED", () => {
    expect(stopCategory({ jobState: "TIMEOUT", reason: "TimeLimit", restarts: 0 }, 0)).toEqual({ category: "TIMEOUT", requeued: false });
    expect(stopCategory({ jobState: "NODE_FAIL", reason: null, restarts: 0 }, 0)).toEqual({ category: "NODE_FAIL", requeued: false });
    expect(stopCategory({ jobState: "COMPLETING", reason: "TimeLimit", restarts: 0 }, 0)).toEqual({ category: "TIMEOUT", requeued: false });
    expect(stopCategory({ jobState: "COMPLETING", reason: "NodeDown", restarts: 0 }, 0)).toEqual({ category: "NODE_FAIL", requeued: false });
    expect(stopCategory({ jobState: "COMPLETING", reason: null, restarts: 0 }, 0)).toBeNull();
    expect(stopCategory({ jobState: "CANCELLED", reason: null, restarts: 0 }, 0)).toBeNull();
    expect(stopCategory({ jobState: "RUNNING", reason: null, restarts: 1 }, 1)).toBeNull();
  });

  it("asks only inside a Slurm job, once, with its own job id; no answer leaves the signal's category", async () => {
    const calls: string[][] = [];
    const run = async (argv: readonly string[]) => {
      calls.push([...argv]);
      return ok("JobId=1002 JobState=PENDING Reason=BeginTime Restarts=1")();
    };
    expect(await askStopVerdict({}, { run })).toBeNull();
    expect(calls).toEqual([]);
    expect(await askStopVerdict({ SLURM_JOB_ID: "1002", SLURM_RESTART_COUNT: "0" }, { run })).toMatchObject({ category: "NODE_FAIL", requeued: true, evidence: "scontrol: JobState=PENDING Reason=BeginTime Restarts=1" });
    expect(calls).toEqual([["scontrol", "show", "job", "-o", "1002"]]);
    // the requeued run itself (SLURM_RESTART_COUNT=1) stopped by scancel is not a requeue
    expect(await askStopVerdict({ SLURM_JOB_ID: "1002", SLURM_RESTART_COUNT: "1" }, { run: ok("JobId=1002 JobState=CANCELLED Reason=None Restarts=1") })).toBeNull();
    expect(await askStopVerdict({ SLURM_JOB_ID: "1002" }, { run: async () => ({ kind: "missing" as const, command: "scontrol" }) })).toBeNull();
  });
});
