import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect } from "../../../src/collect/collect.js";
import { readStatus } from "../../../src/status/status.js";
import { summarizeStatus } from "../../../src/status/summary.js";
import { whatNow } from "../../../src/failures/what-now.js";
import { cutAtWord } from "../../../src/cli/status-format.js";
import { schedulerOutputFile } from "../../../src/schedulers/output-file.js";
import { makeTempOut, writeAttemptStart, writeCorruptDone, writeDone, writePlan } from "../../helpers/collect-fixtures.js";
import { fakeRunner, fixture, ok, writeSubmission } from "./helpers.js";

let out: string;
let cleanup: () => void;
beforeEach(() => {
  ({ out, cleanup } = makeTempOut("cst-what-now-"));
});
afterEach(() => cleanup());

const RESOURCES = (logDir: string) => ({ array: { time_seconds: 600, mem_mib: 1024, cpus: 1 }, timeout_minutes: 5, chunk_size: 1, log_dir: logDir, job_name: "cst" });

describe("status says what to do, and agrees with collect", () => {
  it("a stale attempt (died without a record) is counted stale by status and by collect alike", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }]);
    writeDone(out, plan.tasks[0]!);
    writeAttemptStart(out, plan.tasks[1]!);
    const s = await readStatus(out, { queryScheduler: false });
    expect(s.totals).toMatchObject({ done: 1, stale: 1 });
    const c = await collect(out);
    expect(c.summary.counts).toMatchObject({ success: 1, stale: 1, running: 0, pending: 0 });
    expect(c.summary.tasks[1]!.status).toBe("stale");
  });

  it("a damaged _done.json is its own state, with its path, and the next step reruns it", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    const file = writeCorruptDone(out, plan.tasks[0]!);
    const s = await readStatus(out, { queryScheduler: false });
    expect(s.rows[0]).toMatchObject({ state: "damaged", damagedFile: file, attempts: 0 });
    expect(s.rows[0]!.reason).toContain(file);
    const sum = summarizeStatus(s);
    expect(sum.damaged).toEqual([{ key: "sub-01", file }]);
    expect(sum.nextSteps.map((n) => n.kind)).toEqual(["damaged"]);
  });

  it("a walltime kill that left no record names the scheduler's output file as its log, also once the verdict is recorded", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    const logDir = path.join(out, "logs", "scheduler");
    writeSubmission(out, plan, { jobId: "5", resources: RESOURCES(logDir) });
    const run = fakeRunner({ sacct: ok(fixture("slurm/sacct_timeout.txt")) });
    const first = await readStatus(out, { run });
    expect(first.rows[0]).toMatchObject({ state: "failed", category: "TIMEOUT", schedulerLogPath: path.join(logDir, "array_5_0.out") });
    const again = await readStatus(out, { run });
    expect(again.rows[0]).toMatchObject({ state: "failed", schedulerLogPath: path.join(logDir, "array_5_0.out") });
    const steps = summarizeStatus(again).nextSteps;
    expect(steps[0]).toMatchObject({ kind: "failed", category: "TIMEOUT", logs: [path.join("logs", "scheduler", "array_5_0.out")] });
    expect(steps[0]!.text).toContain(`cst-batch resubmit --out ${out} --category TIMEOUT --time-factor 2`);
  });

  it("PBS Pro and Torque output files follow their own naming", () => {
    const pbs = { scheduler: "pbs", resources: { log_dir: "/o/logs/scheduler", job_name: "cst" } };
    expect(schedulerOutputFile(pbs, "48[3].server")).toBe("/o/logs/scheduler/cst.o48.3");
    expect(schedulerOutputFile({ ...pbs, scheduler: "torque" }, "48[3].server")).toBe("/o/logs/scheduler/cst.o48-3");
    expect(schedulerOutputFile({ scheduler: "slurm", resources: {} }, "5_0")).toBeNull();
  });

  it("the study's next steps name a local resubmit (no scheduler factors) in a local study, resubmit with its factor on a cluster", () => {
    const state = { total: 5, done: 1, running: 0, queued: 0, failed: 4, stale: 0, damaged: 0, notRun: 0, byCategory: { PIPELINE_FAILED: 3, TIMEOUT: 1 } };
    const local = whatNow(state, { out: "/r", local: true, source: { flag: "--bids-dir", path: "/b" } });
    expect(local.map((s) => s.text).join("\n")).toContain("`cst-batch resubmit --out /r --category PIPELINE_FAILED`");
    expect(local.map((s) => s.text).join("\n")).not.toMatch(/--time-factor|--mem-factor/);
    const cluster = whatNow(state, { out: "/r", local: false });
    expect(cluster.map((s) => s.category)).toEqual(["PIPELINE_FAILED", "TIMEOUT"]);
    expect(cluster[1]!.text).toContain("`cst-batch resubmit --out /r --category TIMEOUT --time-factor 2`");
    expect(whatNow({ ...state, failed: 0, byCategory: {}, running: 2, queued: 3 }, { out: "/r", local: false })[0]!.text).toContain("cst-batch cancel --out /r");
    expect(whatNow({ ...state, failed: 0, byCategory: {}, done: 5 }, { out: "/r", local: false })[0]).toMatchObject({ kind: "done" });
  });

  it("invalid subjects: fix them, plan again with `plan --out` alone (settings recorded), then run them; never 'all done' while some are invalid", () => {
    const state = { total: 5, done: 4, running: 0, queued: 0, failed: 0, stale: 0, damaged: 0, notRun: 0, invalid: 1, byCategory: {} };
    const steps = whatNow(state, { out: "/r s", local: false });
    expect(steps.map((s) => s.kind)).toEqual(["invalid"]);
    expect(steps[0]!.text).toContain("`cst-batch plan --out '/r s'`");
    expect(steps[0]!.text).toContain("`cst-batch resubmit --out '/r s'`");
    expect(steps[0]!.text).not.toMatch(/--bids-dir|--manifest/);
  });
});

describe("notes are cut at a word, never inside a number", () => {
  it("keeps MaxRSS 8388604 whole or drops it, and marks the cut", () => {
    const note = "job 12_3 ended without a record; the scheduler says OUT_OF_MEMORY, exit 0:125, elapsed 95 s, MaxRSS 8388604 KiB";
    for (let max = 20; max < note.length; max++) {
      const cut = cutAtWord(note, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(cut.endsWith(" …")).toBe(true);
      expect(note.startsWith(cut.slice(0, -2))).toBe(true);
      // whatever is kept ends at a word boundary of the note
      const kept = cut.slice(0, -2);
      expect([" ", ",", ";", ":", "("]).toContain(note[kept.length] ?? " ");
    }
    expect(cutAtWord(note, note.length)).toBe(note);
  });
});
