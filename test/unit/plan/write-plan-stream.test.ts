import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlan, loadPlan, loadPlanTask } from "../../../src/plan/planner.js";
import { serializePlan } from "../../../src/plan/write-plan.js";
import { taskLineOf } from "../../../src/plan/plan-format.js";
import { CompactNiftiInput, compactInput, plainInput } from "../../../src/plan/compact-input.js";
import { makeBidsDataset, makeTempDir } from "../../helpers/plan-bids-maker.js";
import { makeVersionOnlyCsttool } from "../../helpers/plan-fake-csttool.js";
import { planned } from "../../helpers/plan-outcome.js";

let tmp: string;
let csttool: string;
let n = 0;

beforeAll(async () => {
  tmp = await makeTempDir("cst-plan-stream-");
  csttool = await makeVersionOnlyCsttool(path.join(tmp, "bin"), { version: "0.5.0" });
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const fresh = (name: string): string => path.join(tmp, `${name}${n++}`);

describe("the plan written line by line (bounded memory)", () => {
  it("is byte for byte the plan serializePlan makes of the same tasks: the same id, lines and offsets", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01", sessions: ["ses-1", "ses-2"] }, { id: "sub-02" }, { id: "sub-03" }]);
    const out = fresh("out");
    const o = planned(await createPlan({ csttool, bidsDir: bids, out, now: () => new Date("2021-02-03T04:05:06Z") }));
    const plan = await loadPlan(o.planPath);
    const { tasks, created_at, schema_version: _v, kind: _k, plan_id: _id, ...draft } = plan;
    const serialized = serializePlan(draft, tasks.map(taskLineOf));
    expect(serialized.header.plan_id).toBe(o.plan.plan_id);
    const { schema_version, kind, plan_id, ...rest } = serialized.header;
    const expected = [JSON.stringify({ schema_version, kind, plan_id, created_at, ...rest }), ...serialized.lines, ""].join("\n");
    expect(await fsp.readFile(o.planPath, "utf8")).toBe(expected);
    for (let i = 0; i < tasks.length; i++) expect((await loadPlanTask(o.planPath, i)).task).toEqual(tasks[i]);
  });

  it("a plan of the same id whose created_at has another length keeps it: the lines move after the longer header and the offsets follow", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02", sessions: ["ses-a", "ses-b"] }, { id: "sub-03" }]);
    const out = fresh("out");
    const first = planned(await createPlan({ csttool, bidsDir: bids, out }));
    // The same plan as another tool (or a hand) might have written it: a created_at without milliseconds.
    const text = await fsp.readFile(first.planPath, "utf8");
    const shortAt = "2020-01-01T00:00:00Z";
    await fsp.writeFile(first.planPath, text.replace(/"created_at":"[^"]*"/, `"created_at":"${shortAt}"`));
    const again = planned(await createPlan({ csttool, bidsDir: bids, out, now: () => new Date("2024-06-01T00:00:00Z") }));
    expect(again.plan.plan_id).toBe(first.plan.plan_id);
    expect(again.plan.created_at).toBe(shortAt);
    const current = path.join(out, ".cst-batch", "plan.jsonl");
    const written = await fsp.readFile(current, "utf8");
    expect(written.split("\n")[0]).toContain(`"created_at":"${shortAt}"`);
    expect(written.split("\n").slice(1)).toEqual(text.split("\n").slice(1));
    const plan = await loadPlan(current);
    expect(plan.created_at).toBe(shortAt);
    // The offsets file says where each line now starts (a reader would fall back to a scan if not: checked here directly).
    const idx = await fsp.readFile(path.join(out, ".cst-batch", "plan.idx"));
    const bytes = Buffer.from(written);
    const starts: number[] = [];
    for (let at = bytes.indexOf(0x0a); at >= 0 && at + 1 < bytes.length; at = bytes.indexOf(0x0a, at + 1)) starts.push(at + 1);
    const entries = Array.from({ length: plan.task_count + 1 }, (_, k) => Number(idx.readBigUInt64LE(8 + 8 * k)));
    expect(entries).toEqual([...starts, bytes.length]);
    for (let i = 0; i < plan.task_count; i++) expect((await loadPlanTask(current, i)).task).toEqual(plan.tasks[i]);
    expect(await fsp.readdir(path.join(out, ".cst-batch", "plans"))).toEqual([`${first.plan.plan_id}.idx`, `${first.plan.plan_id}.jsonl`]);
  });

  it("a dry run writes nothing and gives the id a real run writes", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02" }]);
    const out = fresh("out");
    const dry = planned(await createPlan({ csttool, bidsDir: bids, out, dryRun: true }));
    await expect(fsp.access(out)).rejects.toMatchObject({ code: "ENOENT" });
    const real = planned(await createPlan({ csttool, bidsDir: bids, out }));
    expect(real.plan.plan_id).toBe(dry.plan.plan_id);
    expect((await dry.loadRefs()).tasks).toEqual((await real.loadRefs()).tasks);
  });
});

describe("a NIfTI input held compactly while planning", () => {
  const plain = {
    kind: "nifti" as const,
    nifti: "/data/sub-01/dwi/sub-01_acq-b_dwi.nii.gz",
    bval: "/data/sub-01/dwi/sub-01_acq-b_dwi.bval",
    bvec: "/data/sub-01/dwi/sub-01_acq-b_dwi.bvec",
    json: null,
    entities: { acq: "b" },
    identity: [
      { path: "/data/sub-01/dwi/sub-01_acq-b_dwi.nii.gz", size: 3_000_000_000, mtime_ms: 1700000000123.25 },
      { path: "/data/sub-01/dwi/sub-01_acq-b_dwi.bval", size: 10, mtime_ms: 1 },
      { path: "/data/sub-01/dwi/sub-01_acq-b_dwi.bvec", size: 20, mtime_ms: 2 },
    ],
  };

  it("reads back as the plain input it was made from (paths, identity, entities; no .json)", () => {
    const compact = compactInput(plain);
    expect(compact).toBeInstanceOf(CompactNiftiInput);
    expect(plainInput(compact)).toEqual(plain);
    expect(JSON.parse(JSON.stringify(compact))).toEqual(plain);
  });

  it("an input of another shape stays plain (a .bval beside another stem)", () => {
    const odd = { ...plain, bval: "/data/sub-01/dwi/other.bval", identity: [plain.identity[0]!, { ...plain.identity[1]!, path: "/data/sub-01/dwi/other.bval" }, plain.identity[2]!] };
    expect(compactInput(odd)).toBe(odd);
  });
});
