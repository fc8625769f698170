import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlan, loadPlan } from "../../../src/plan/planner.js";
import { previousPlan } from "../../../src/plan/replan.js";
import { plainInput } from "../../../src/plan/compact-input.js";
import { makeBidsDataset, makeTempDir } from "../../helpers/plan-bids-maker.js";
import { makeVersionOnlyCsttool } from "../../helpers/plan-fake-csttool.js";
import { planned } from "../../helpers/plan-outcome.js";

let tmp: string;
let csttool: string;

beforeAll(async () => {
  tmp = await makeTempDir("cst-previous-plan-");
  csttool = await makeVersionOnlyCsttool(path.join(tmp, "bin"), { version: "0.5.0" });
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe("the previous plan a re-plan holds (keys and config hashes; tasks read back)", () => {
  it("gives each task's hash and reads back exactly the task that was planned, in any order", async () => {
    const bids = await makeBidsDataset(path.join(tmp, "bids"), [{ id: "sub-01", sessions: ["ses-1", "ses-2"] }, { id: "sub-02" }, { id: "sub-03" }, { id: "sub-04", sessions: ["ses-a"] }]);
    const out = path.join(tmp, "out");
    const o = planned(await createPlan({ csttool, bidsDir: bids, out }));
    const plan = await loadPlan(o.planPath);
    const previous = await previousPlan(out);
    expect(previous).not.toBeNull();
    try {
      expect(previous!.version).toBe("0.5.0");
      expect(previous!.size).toBe(plan.tasks.length);
      expect([...previous!.keys()]).toEqual(plan.tasks.map((t) => t.key));
      for (const t of [...plan.tasks].reverse()) {
        expect(previous!.hashOf(t.key)).toBe(t.config_hash);
        expect(previous!.indexOf(t.key)).toBe(t.index);
        const back = previous!.task(t.key)!;
        expect({ ...back, input: plainInput(back.input) }).toEqual(t);
      }
      expect(previous!.hashOf("sub-99")).toBeUndefined();
      expect(previous!.task("sub-99")).toBeUndefined();
    } finally {
      previous!.close();
    }
  });

  it("is null without a plan, and null (nothing explained) for a damaged one", async () => {
    const out = path.join(tmp, "none");
    expect(await previousPlan(out)).toBeNull();
    const bids = await makeBidsDataset(path.join(tmp, "bids2"), [{ id: "sub-01" }, { id: "sub-02" }]);
    const out2 = path.join(tmp, "out2");
    planned(await createPlan({ csttool, bidsDir: bids, out: out2 }));
    const current = path.join(out2, ".cst-batch", "plan.jsonl");
    const text = await fsp.readFile(current, "utf8");
    await fsp.writeFile(current, text.slice(0, text.length - 20));
    expect(await previousPlan(out2)).toBeNull();
  });
});
