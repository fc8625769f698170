import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readStatus } from "../../../src/status/status.js";
import { makeTempOut, writeDone, writeFailedAttempt, writePlan } from "../../helpers/collect-fixtures.js";
import { fakeRunner, ok, writeSubmission } from "./helpers.js";

let out: string;
let cleanup: () => void;
beforeEach(() => {
  ({ out, cleanup } = makeTempOut("cst-sched-peak-"));
});
afterEach(() => cleanup());

const sacct = (lines: Array<[string, string]>) => ok(lines.map(([id, rss]) => `${id}|${id.replace(/_\d+$/, "")}|COMPLETED|0:0|00:01:00||localhost\n${id}.batch|${id.replace(/_\d+$/, "")}.batch|COMPLETED|0:0|00:01:00|${rss}|localhost\n`).join(""));
const doneOf = (key: string) => JSON.parse(readFileSync(path.join(out, key, "_done.json"), "utf8"));

describe("the scheduler's larger MaxRSS replaces run-one's peak", () => {
  it("done subjects: asked only with schedulerPeaks; the larger sacct figure is recorded with source sacct and run-one's kept; a smaller one changes nothing", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }]);
    writeSubmission(out, plan, { jobId: "7" });
    writeDone(out, plan.tasks[0]!, { jobId: "7_0", maxRssKb: 3000 });
    writeDone(out, plan.tasks[1]!, { jobId: "7_1", maxRssKb: 800_000 });
    const run = fakeRunner({ sacct: sacct([["7_0", "700000K"], ["7_1", "2000K"]]) });

    // plain status: nothing unfinished, no question to the scheduler
    expect((await readStatus(out, { run })).rows[0]).toMatchObject({ maxRssKb: 3000 });
    expect(run.calls).toEqual([]);

    const r = await readStatus(out, { run, schedulerPeaks: true });
    expect(r.rows.map((x) => [x.state, x.maxRssKb, x.maxRssSource])).toEqual([
      ["done", 700000, "sacct"],
      ["done", 800_000, null],
    ]);
    expect(r.writeBacks).toEqual([{ key: "sub-01", kind: "peak", outcome: expect.objectContaining({ kind: "written", category: null }) }]);
    expect(doneOf("sub-01")).toMatchObject({ max_rss_kb: 700000, max_rss_source: "sacct", max_rss_own: { kb: 3000, source: null } });
    expect(doneOf("sub-02").max_rss_kb).toBe(800_000);
    // idempotent
    expect((await readStatus(out, { run, schedulerPeaks: true })).writeBacks).toEqual([]);
  });

  it("on LSF the larger figure is bjobs' max_mem, recorded with source bjobs (not sacct)", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "9", scheduler: "lsf" });
    writeDone(out, plan.tasks[0]!, { jobId: "9_0", maxRssKb: 3000 });
    const run = fakeRunner({ bjobs: ok("9|1|DONE|-|60 second(s)|700 Mbytes|hx-noah-05-14|-\n") });
    const r = await readStatus(out, { run, schedulerPeaks: true });
    expect(r.rows[0]).toMatchObject({ maxRssKb: 700 * 1024, maxRssSource: "bjobs" });
    expect(doneOf("sub-01")).toMatchObject({ max_rss_kb: 700 * 1024, max_rss_source: "bjobs", max_rss_own: { kb: 3000 } });
  });

  it("an element that ran several subjects (a chunk) is no subject's own peak: its MaxRSS is not taken", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }]);
    writeSubmission(out, plan, { jobId: "8", chunks: [[0, 1]] });
    writeDone(out, plan.tasks[0]!, { jobId: "8_0", maxRssKb: 3000 });
    writeDone(out, plan.tasks[1]!, { jobId: "8_0", maxRssKb: 4000 });
    const r = await readStatus(out, { run: fakeRunner({ sacct: sacct([["8_0", "700000K"]]) }), schedulerPeaks: true });
    expect(r.rows.map((x) => x.maxRssKb)).toEqual([3000, 4000]);
    expect(r.writeBacks).toEqual([]);
  });

  it("a failed attempt corrected by the scheduler (CANCELLED -> TIMEOUT) keeps the larger of both figures", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }]);
    writeSubmission(out, plan, { jobId: "5" });
    writeFailedAttempt(out, plan.tasks[0]!, { category: "CANCELLED", jobId: "5_0", finishedAt: "2026-01-03T10:02:00.000Z", maxRssKb: 1000 });
    const run = fakeRunner({ sacct: ok("5_0|5|TIMEOUT|0:0|01:00:03||localhost\n5_0.batch|5.batch|CANCELLED|0:15|01:00:03|500000K|localhost\n") });
    const r = await readStatus(out, { run });
    expect(r.rows[0]).toMatchObject({ state: "failed", category: "TIMEOUT", maxRssKb: 500000, maxRssSource: "sacct" });
    const dir = path.join(out, "sub-01", "_failed_attempts");
    const rec = JSON.parse(readFileSync(path.join(dir, readdirSync(dir)[0]!, "attempt.json"), "utf8"));
    expect(rec).toMatchObject({ category: "TIMEOUT", max_rss_kb: 500000, max_rss_source: "sacct", max_rss_own: { kb: 1000 } });
  });
});
