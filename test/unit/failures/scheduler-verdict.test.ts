import { describe, expect, it } from "vitest";
import { categoryOfSchedulerEnd, schedulerCorrection, schedulerWillRun } from "../../../src/failures/scheduler-verdict.js";
import { parseSlurmSacct } from "../../../src/schedulers/slurm.js";
import type { TaskSchedulerState } from "../../../src/schedulers/types.js";

function end(over: Partial<TaskSchedulerState>): TaskSchedulerState {
  return { jobId: "12", arrayIndex: 0, state: "failed", rawState: "FAILED", reason: null, exitCode: 0, signal: 9, elapsedSeconds: 30, maxRssKb: null, node: "n1", requestedMemKb: 1024 * 1024, requestedSeconds: 600, ...over };
}

describe("the scheduler's verdict on how a job ended", () => {
  it("FAILED 0:9 with MaxRSS at or above the memory request is OUT_OF_MEMORY (OverMemoryKill); below it, KILLED", () => {
    expect(categoryOfSchedulerEnd(end({ maxRssKb: 1024 * 1024 }))).toBe("OUT_OF_MEMORY");
    expect(categoryOfSchedulerEnd(end({ maxRssKb: 1024 * 1024 - 1 }))).toBe("KILLED");
    // no request known: no guess
    expect(categoryOfSchedulerEnd(end({ maxRssKb: 9e9, requestedMemKb: null }))).toBe("KILLED");
    // SIGTERM is not a memory kill, whatever the figure
    expect(categoryOfSchedulerEnd(end({ signal: 15, maxRssKb: 9e9 }))).toBe("KILLED");
  });

  it("a signal death after the whole walltime is TIMEOUT (Torque 271 = 256+SIGTERM at the limit)", () => {
    expect(categoryOfSchedulerEnd(end({ state: "killed", signal: 15, elapsedSeconds: 600 }))).toBe("TIMEOUT");
    expect(categoryOfSchedulerEnd(end({ state: "killed", signal: 15, elapsedSeconds: 599 }))).toBe("KILLED");
  });

  it("a plain FAILED (non-zero exit, no signal) is SYSTEM; named states map through the catalogue", () => {
    expect(categoryOfSchedulerEnd(end({ signal: null, exitCode: 1 }))).toBe("SYSTEM");
    expect(categoryOfSchedulerEnd(end({ state: "timeout", signal: null }))).toBe("TIMEOUT");
    expect(categoryOfSchedulerEnd(end({ state: "node_fail", signal: null }))).toBe("NODE_FAIL");
    expect(categoryOfSchedulerEnd(end({ state: "preempted", signal: null }))).toBe("PREEMPTED");
    expect(categoryOfSchedulerEnd(end({ state: "completed", signal: null }))).toBeNull();
    expect(categoryOfSchedulerEnd(end({ state: "pending", signal: null }))).toBeNull();
  });

  it("corrects only run-one's CANCELLED/KILLED, and only to a cause the scheduler alone knows", () => {
    const timeout = end({ state: "timeout", signal: null });
    expect(schedulerCorrection("CANCELLED", timeout)).toBe("TIMEOUT");
    expect(schedulerCorrection("KILLED", end({ maxRssKb: 2 * 1024 * 1024 }))).toBe("OUT_OF_MEMORY");
    expect(schedulerCorrection("CANCELLED", end({ state: "node_fail", signal: null }))).toBe("NODE_FAIL");
    expect(schedulerCorrection("KILLED", end({ state: "preempted", signal: null }))).toBe("PREEMPTED");
    // the user's scancel stays CANCELLED; a pipeline failure is never overridden
    expect(schedulerCorrection("CANCELLED", end({ state: "cancelled", signal: null }))).toBeNull();
    expect(schedulerCorrection("PIPELINE_FAILED", timeout)).toBeNull();
    expect(schedulerCorrection("TIMEOUT", end({ maxRssKb: 9e9 }))).toBeNull();
    expect(schedulerCorrection("KILLED", end({}))).toBeNull();
  });

  it("a Slurm TIMEOUT recorded on the test cluster (.batch CANCELLED 0:15) corrects a CANCELLED record", () => {
    const [el] = parseSlurmSacct("5|5|TIMEOUT|0:0|00:01:27||localhost\n5.batch|5.batch|CANCELLED|0:15|00:01:27|2936K|localhost\n");
    expect(schedulerCorrection("CANCELLED", el!)).toBe("TIMEOUT");
  });

  it("pending and running mean the scheduler will still run the element", () => {
    expect(schedulerWillRun(end({ state: "pending" }))).toBe(true);
    expect(schedulerWillRun(end({ state: "running" }))).toBe(true);
    expect(schedulerWillRun(end({ state: "node_fail" }))).toBe(false);
    expect(schedulerWillRun(null)).toBe(false);
  });
});
