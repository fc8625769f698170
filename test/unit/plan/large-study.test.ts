import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlan } from "../../../src/plan/planner.js";
import { previousPlan } from "../../../src/plan/replan.js";
import { plainInput } from "../../../src/plan/compact-input.js";
import { makeLargeBidsDataset, makeTempDir } from "../../helpers/plan-bids-maker.js";
import { makeVersionOnlyCsttool } from "../../helpers/plan-fake-csttool.js";

// Speed targets live in bench/ (npm run bench); this checks that a large study plans correctly.
const SUBJECTS = 2_000;

let tmp: string;
let bids: string;
let csttool: string;
beforeAll(async () => {
  tmp = await makeTempDir("cst-plan-large-");
  csttool = await makeVersionOnlyCsttool(path.join(tmp, "bin"));
  bids = await makeLargeBidsDataset(path.join(tmp, "bids"), SUBJECTS);
}, 300_000);
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe("a large study", () => {
  it(`plans ${SUBJECTS} subjects in order, and re-planning gives the same plan id and hashes`, async () => {
    const out = path.join(tmp, "out");
    const first = await createPlan({ bidsDir: bids, out, csttool, skipDiskCheck: true });
    const again = await createPlan({ bidsDir: bids, out, csttool, skipDiskCheck: true });
    expect(first.kind).toBe("planned");
    expect(again.kind).toBe("planned");
    if (first.kind !== "planned" || again.kind !== "planned") return;
    expect(first.plan.task_count).toBe(SUBJECTS);
    expect((await first.loadPlan()).tasks.map((t) => t.index)).toEqual([...Array(SUBJECTS).keys()]);
    const subjects = (await first.loadPlan()).tasks.map((t) => t.subject);
    expect([...subjects].sort()).toEqual(subjects);
    expect(again.plan.plan_id).toBe(first.plan.plan_id);
    expect((await again.loadPlan()).tasks.map((t) => t.config_hash)).toEqual((await first.loadPlan()).tasks.map((t) => t.config_hash));
    expect(again.preview.resume).toMatchObject({ done: 0, new: SUBJECTS, to_run: SUBJECTS });

    // The plan file is read in 1 MB pieces (lines cut across them): a re-plan's scan sees every task.
    const tasks = (await again.loadPlan()).tasks;
    expect((await fsp.stat(again.planPath)).size).toBeGreaterThan(1 << 20);
    const previous = (await previousPlan(out))!;
    try {
      expect([...previous.keys()]).toEqual(tasks.map((t) => t.key));
      expect(tasks.every((t) => previous.hashOf(t.key) === t.config_hash)).toBe(true);
      for (const t of [tasks[0]!, tasks[1234]!, tasks[SUBJECTS - 1]!]) {
        const back = previous.task(t.key)!;
        expect({ ...back, input: plainInput(back.input) }).toEqual(t);
      }
    } finally {
      previous.close();
    }
  });
});
