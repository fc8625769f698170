import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlan, loadPlan, loadPlanTask } from "../../../src/plan/planner.js";
import { serializePlan } from "../../../src/plan/write-plan.js";
import { writePlanStream } from "../../../src/plan/write-plan-stream.js";
import type { PlanTaskLine } from "../../../src/schemas/plan.js";
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

  it("lines of many bytes each (accents, CJK) over several 1 MB pieces, and one line larger than a piece, are the bytes serializePlan makes, with their offsets", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }]);
    const first = planned(await createPlan({ csttool, bidsDir: bids, out: fresh("out"), now: () => new Date("2021-02-03T04:05:06Z") }));
    const { tasks: [one], created_at: _c, schema_version: _v, kind: _k, plan_id: _id, ...draft } = await loadPlan(first.planPath);
    const root = draft.input_root as string;
    const lines: PlanTaskLine[] = [];
    for (let i = 0; i < 4000; i++) {
      const dir = `${root}/sub-${i}/dossier-é-${"日本語".repeat(20)}-${i}`;
      const stem = `${dir}/sub-${i}_dwi`;
      const input = { kind: "nifti" as const, nifti: `${stem}.nii.gz`, bval: `${stem}.bval`, bvec: `${stem}.bvec`, json: null, entities: {}, identity: [`${stem}.nii.gz`, `${stem}.bval`, `${stem}.bvec`].map((p, k) => ({ path: p, size: 10 + k, mtime_ms: 1700000000000.5 + i })) };
      // Half held compactly as the planner does, half plain: both encoders write the same bytes.
      const options = i === 2500 ? { label: "ü".repeat(600_000) } : {};
      lines.push({ ...taskLineOf(one!), index: i, key: `sub-${i}`, subject: `sub-${i}`, session: null, input: i % 2 === 0 ? compactInput(input) : input, options } as PlanTaskLine);
    }
    const out = fresh("out");
    const written = writePlanStream(out, draft, lines, new Date("2021-02-03T04:05:06Z"));
    const serialized = serializePlan(draft, lines.map((l) => ({ ...l, input: plainInput(l.input) })));
    expect(written.header.plan_id).toBe(serialized.header.plan_id);
    const bytes = await fsp.readFile(written.planPath);
    expect(bytes.length).toBeGreaterThan(3 << 20);
    expect(bytes.toString("utf8").split("\n").slice(1, -1)).toEqual(serialized.lines);
    const idx = await fsp.readFile(written.planPath.replace(/\.jsonl$/, ".idx"));
    const starts: number[] = [];
    for (let at = bytes.indexOf(0x0a); at >= 0 && at + 1 < bytes.length; at = bytes.indexOf(0x0a, at + 1)) starts.push(at + 1);
    const entries = Array.from({ length: lines.length + 1 }, (_, k) => Number(idx.readBigUInt64LE(8 + 8 * k)));
    expect(entries).toEqual([...starts, bytes.length]);
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
