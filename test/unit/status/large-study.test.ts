import { afterAll, describe, expect, it } from "vitest";
import { readStatus } from "../../../src/status/status.js";
import { makeTempOut, writeDone, writeFailedAttempt, writePlan } from "../../helpers/collect-fixtures.js";
import { fakeRunner, ok, writeSubmission } from "./helpers.js";

const { out, cleanup } = makeTempOut("cst-status-large-");
afterAll(cleanup);

/** Writing 10,000 subject folders takes ~30 s here: run with CST_LARGE_TESTS=1. */
describe.skipIf(process.env.CST_LARGE_TESTS !== "1")("status on a 10,000-task study", () => {
  // Its speed is bench/ figure 4 (npm run bench); this checks the answer and the single query.
  it("answers from the records plus ONE scheduler query", async () => {
    const n = 10_000;
    const plan = writePlan(out, Array.from({ length: n }, (_, i) => ({ subject: `sub-${String(i).padStart(5, "0")}` })));
    writeSubmission(out, plan, { jobId: "5000" });
    plan.tasks.forEach((t, i) => {
      if (i % 20 === 0) writeFailedAttempt(out, t, { jobId: `5000_${i}`, finishedAt: "2026-01-03T11:00:00.000Z" });
      else if (i % 20 !== 1) writeDone(out, t, { jobId: `5000_${i}`, finishedAt: "2026-01-03T11:00:00.000Z" });
    });
    // the never-run twentieth are still queued
    const pending = `5000_[${plan.tasks.filter((_, i) => i % 20 === 1).map((t) => t.index).join(",")}]|5000|PENDING|0:0|00:00:00||None assigned\n`;
    const run = fakeRunner({ sacct: ok(pending) });
    const r = await readStatus(out, { run });
    expect(run.calls).toHaveLength(1);
    expect(r.totals).toMatchObject({ total: n, done: 9000, failed: 500, "pending-in-queue": 500 });
  }, 120_000);
});
