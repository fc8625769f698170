import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlan, loadPlan, loadPlanTask, type PlanOutcome } from "../../../src/plan/planner.js";
import { loadPlanRefs, planTaskRef } from "../../../src/plan/load-plan.js";
import { csttoolArgv, linkedSeries } from "../../../src/run/csttool-argv.js";
import type { PlanRequest } from "../../../src/plan/request.js";
import { CstError } from "../../../src/errors.js";
import type { Plan } from "../../../src/schemas/records.js";
import { makeBidsDataset, makeTempDir, writeNiftiSet } from "../../helpers/plan-bids-maker.js";
import { writeDicomSeries } from "../../helpers/plan-dicom-writer.js";
import { makeVersionOnlyCsttool } from "../../helpers/plan-fake-csttool.js";
import { planned, writeDoneFor } from "../../helpers/plan-outcome.js";

let tmp: string;
let csttool: string;
let n = 0;

beforeAll(async () => {
  tmp = await makeTempDir("cst-planner-");
  csttool = await makeVersionOnlyCsttool(path.join(tmp, "bin"), { version: "0.5.0" });
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

function fresh(name: string): string {
  return path.join(tmp, `${name}${n++}`);
}

/** A loaded plan without its tasks: what createPlan returns as `plan`. */
function headerOf(p: Plan): Omit<Plan, "tasks"> {
  const { tasks: _tasks, ...header } = p;
  return header;
}
function problemsOf(o: PlanOutcome) {
  if (o.kind !== "problems") throw new Error("expected problems, got a plan");
  return o.problems;
}

async function writeManifest(dir: string, content: unknown): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, "manifest.json");
  await fsp.writeFile(file, JSON.stringify(content, null, 2));
  return file;
}

function base(extra: Partial<PlanRequest> & { out: string }): PlanRequest {
  return { csttool, ...extra };
}

describe("createPlan: the plan file", () => {
  it("writes plans/<plan_id>.jsonl and plan.jsonl (the same file), tasks sorted; run-one's argv from the task is exact", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-02" }, { id: "sub-01", sessions: ["ses-b", "ses-a"] }]);
    const out = fresh("out");
    const o = planned(await createPlan(base({ bidsDir: bids, out, options: { fa_thr: 0.3, unring: true } })));
    expect(o.planPath).toBe(path.join(out, ".cst-batch", "plans", `${o.plan.plan_id}.jsonl`));
    const immutable = await fsp.readFile(o.planPath, "utf8");
    expect(await fsp.readFile(path.join(out, ".cst-batch", "plan.jsonl"), "utf8")).toBe(immutable);
    expect(await fsp.readFile(path.join(out, ".cst-batch", "plan.idx"))).toEqual(await fsp.readFile(path.join(out, ".cst-batch", "plans", `${o.plan.plan_id}.idx`)));
    // JSON Lines: the header, then one line per task in index order, input paths relative to the BIDS folder, no argv.
    const lines = immutable.split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[4]).toBe("");
    expect(JSON.parse(lines[0]!)).toMatchObject({ schema_version: 2, kind: "cst-batch-plan", plan_id: o.plan.plan_id, task_count: 3, input_root: bids });
    const line0 = JSON.parse(lines[1]!);
    expect(Object.keys(line0)).toEqual(["index", "key", "subject", "session", "input", "options", "config_hash"]);
    expect(line0.input.nifti).toBe(path.join("sub-01", "ses-a", "dwi", "sub-01_ses-a_dwi.nii.gz"));
    const plan = await loadPlan(o.planPath);
    expect(headerOf(plan)).toEqual(o.plan);
    expect(plan.tasks.map((t) => [t.index, t.key])).toEqual([
      [0, "sub-01_ses-a"],
      [1, "sub-01_ses-b"],
      [2, "sub-02"],
    ]);
    const t0 = plan.tasks[0]!;
    expect(csttoolArgv(plan.csttool.executable, t0, path.join(out, t0.output_dir))).toEqual([
      csttool,
      "run",
      "--nifti",
      path.join(bids, "sub-01", "ses-a", "dwi", "sub-01_ses-a_dwi.nii.gz"),
      "--out",
      path.join(out, "sub-01", "ses-a", "_work", "csttool"),
      "--subject-id",
      "01",
      "--session-id",
      "a",
      "--unring",
      "--fa-thr",
      "0.3",
    ]);
    expect(t0).toMatchObject({ output_dir: path.join("sub-01", "ses-a") });
    expect(t0.config_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(csttoolArgv(plan.csttool.executable, plan.tasks[2]!, path.join(out, "sub-02"))).not.toContain("--session-id");
    expect(plan).toMatchObject({ kind: "cst-batch-plan", schema_version: 2, task_count: 3, out_dir: out, source: { type: "bids", bids_dir: bids }, csttool: { executable: csttool, version: "0.5.0" } });
    expect(plan.run).toEqual({ timeout_minutes: 120, grace_seconds: 30 });
    expect(o.preview).toMatchObject({ task_count: 3, by_input: { nifti: 3, dicom: 0 }, by_session: { "ses-a": 1, "ses-b": 1, "(none)": 1 }, resume: { done: 0, changed: 0, new: 3, to_run: 3 } });
  });

  it("a DICOM subject with series_uid has its series linked in _work and csttool is pointed at it", async () => {
    const dir = fresh("man");
    await writeDicomSeries(path.join(dir, "dcm"), { seriesUid: "1.7.1", seriesNumber: 3, count: 2 });
    await writeDicomSeries(path.join(dir, "dcm"), { seriesUid: "1.7.2", seriesNumber: 4, count: 1 });
    await writeDicomSeries(path.join(dir, "single"), { seriesUid: "1.7.9", seriesNumber: 1, count: 2 });
    const manifest = await writeManifest(dir, {
      subjects: [
        { id: "sub-1", dicom: "dcm", series_uid: "1.7.1" },
        { id: "sub-2", dicom: "single" },
      ],
    });
    const out = fresh("out");
    const o = planned(await createPlan(base({ manifest, out, timeoutMinutes: 0.5 })));
    const [t1, t2] = (await o.loadPlan()).tasks;
    const link = path.join(out, "sub-1", "_work", "dicom-series");
    expect(linkedSeries(t1!)).toBe(true);
    expect(csttoolArgv(o.plan.csttool.executable, t1!, path.join(out, "sub-1")).slice(0, 4)).toEqual([csttool, "run", "--dicom", link]);
    expect(t1!.input).toMatchObject({ kind: "dicom", dicom_dir: path.join(dir, "dcm"), series_uid: "1.7.1", identity: { file_count: 2 } });
    expect(linkedSeries(t2!)).toBe(false);
    expect(csttoolArgv(o.plan.csttool.executable, t2!, path.join(out, "sub-2")).slice(2, 4)).toEqual(["--dicom", path.join(dir, "single")]);
    expect(o.plan.run.timeout_minutes).toBe(0.5);
    expect(o.plan.source).toMatchObject({ type: "manifest", manifest_path: manifest });
  });

  it("planning the same inputs twice gives the same plan_id, indices and hashes, and keeps the file", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02" }, { id: "sub-03" }]);
    const out = fresh("out");
    const a = planned(await createPlan(base({ bidsDir: bids, out, now: () => new Date("2020-01-01T00:00:00Z") })));
    const b = planned(await createPlan(base({ bidsDir: bids, out, now: () => new Date("2024-06-01T00:00:00Z") })));
    expect(b.plan.plan_id).toBe(a.plan.plan_id);
    expect((await b.loadPlan()).tasks.map((t) => [t.index, t.key, t.config_hash])).toEqual((await a.loadPlan()).tasks.map((t) => [t.index, t.key, t.config_hash]));
    expect(b.plan.created_at).toBe("2020-01-01T00:00:00.000Z");
    expect(headerOf(await loadPlan(b.planPath))).toEqual(b.plan);
    expect(await loadPlan(path.join(out, ".cst-batch", "plan.jsonl"))).toEqual(await b.loadPlan());
    // Same inputs into another folder: same config hashes (the output path is not part of them).
    const c = planned(await createPlan(base({ bidsDir: bids, out: fresh("out") })));
    expect((await c.loadPlan()).tasks.map((t) => t.config_hash)).toEqual((await a.loadPlan()).tasks.map((t) => t.config_hash));
    // Touching one input changes that task's hash only.
    const bvec = path.join(bids, "sub-02", "dwi", "sub-02_dwi.bvec");
    const later = new Date(Date.now() + 60_000);
    await fsp.utimes(bvec, later, later);
    const d = planned(await createPlan(base({ bidsDir: bids, out })));
    expect(d.plan.plan_id).not.toBe(a.plan.plan_id);
    const aTasks = (await a.loadPlan()).tasks;
    const changed = (await d.loadPlan()).tasks.filter((t, i) => t.config_hash !== aTasks[i]!.config_hash).map((t) => t.key);
    expect(changed).toEqual(["sub-02"]);
    // The earlier plan file stays (arrays point at it).
    expect((await loadPlan(a.planPath)).plan_id).toBe(a.plan.plan_id);
  });

  it("another csttool version or option changes every hash", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }]);
    const out = fresh("out");
    const a = planned(await createPlan(base({ bidsDir: bids, out })));
    const b = planned(await createPlan(base({ bidsDir: bids, out, csttoolVersion: "0.6.0" })));
    const c = planned(await createPlan(base({ bidsDir: bids, out, options: { seed_density: 2 } })));
    const firstHashes = await Promise.all([a, b, c].map(async (x) => (await x.loadPlan()).tasks[0]!.config_hash));
    expect(new Set(firstHashes).size).toBe(3);
  });

  it("re-planning counts done, changed and new tasks from _done.json", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02" }, { id: "sub-03" }]);
    const out = fresh("out");
    const first = planned(await createPlan(base({ bidsDir: bids, out })));
    const done = (task: Plan["tasks"][number], hash: string): Promise<void> => writeDoneFor(out, first.plan, task, hash);
    await done((await first.loadPlan()).tasks[0]!, (await first.loadPlan()).tasks[0]!.config_hash);
    await done((await first.loadPlan()).tasks[1]!, "sha256:old");
    const again = planned(await createPlan(base({ bidsDir: bids, out })));
    expect(again.preview.resume).toEqual({ done: 1, changed: 1, new: 1, to_run: 2 });
    expect(again.preview.first_tasks.map((t) => t.state)).toEqual(["done", "changed", "new"]);
  });
});

describe("createPlan: options", () => {
  it("precedence: command line > subject options > manifest options", async () => {
    const dir = fresh("man");
    await writeNiftiSet(path.join(dir, "d1"), "s1");
    await writeNiftiSet(path.join(dir, "d2"), "s2");
    const manifest = await writeManifest(dir, {
      options: { fa_thr: 0.1, seed_density: 2, step_size: 0.4 },
      subjects: [
        { id: "sub-1", nifti: "d1/s1_dwi.nii.gz", options: { fa_thr: 0.15, seed_density: 3 } },
        { id: "sub-2", nifti: "d2/s2_dwi.nii.gz" },
      ],
    });
    const o = planned(await createPlan(base({ manifest, out: fresh("out"), options: { seed_density: 5 } })));
    expect((await o.loadPlan()).tasks[0]!.options).toEqual({ fa_thr: 0.15, seed_density: 5, step_size: 0.4 });
    expect((await o.loadPlan()).tasks[1]!.options).toEqual({ fa_thr: 0.1, seed_density: 5, step_size: 0.4 });
    expect(o.plan.options).toEqual({ fa_thr: 0.1, seed_density: 5, step_size: 0.4 });
    expect(csttoolArgv(o.plan.csttool.executable, (await o.loadPlan()).tasks[0]!, "/study/sub-1").slice(-6)).toEqual(["--fa-thr", "0.15", "--seed-density", "5", "--step-size", "0.4"]);
  });

  it("a command-line false overrides a manifest true (--no-X)", async () => {
    const dir = fresh("man");
    await writeNiftiSet(path.join(dir, "d1"), "s1");
    const manifest = await writeManifest(dir, { options: { generate_pdf: true }, subjects: [{ id: "sub-1", nifti: "d1/s1_dwi.nii.gz" }] });
    const o = planned(await createPlan(base({ manifest, out: fresh("out"), options: { generate_pdf: false } })));
    expect((await o.loadPlan()).tasks[0]!.options.generate_pdf).toBe(false);
    expect(csttoolArgv(o.plan.csttool.executable, (await o.loadPlan()).tasks[0]!, "/study/sub-1")).not.toContain("--generate-pdf");
  });

  it("invalid values and cross-field conflicts are problems naming flag, path or subject", async () => {
    const dir = fresh("man");
    await writeNiftiSet(path.join(dir, "d1"), "s1");
    await writeNiftiSet(path.join(dir, "d2"), "s2");
    const manifest = await writeManifest(dir, {
      options: { denoise_method: "mppca" },
      subjects: [
        { id: "sub-1", nifti: "d1/s1_dwi.nii.gz", options: { sh_order: 7 } },
        { id: "sub-2", nifti: "d2/s2_dwi.nii.gz", options: { min_length: 50, max_length: 40 } },
        { id: "sub-3", nifti: "d1/s1_dwi.nii.gz" },
      ],
    });
    const problems = problemsOf(await createPlan(base({ manifest, out: fresh("out"), options: { fa_thr: 2, coil_count: 4 } })));
    const opt = problems.filter((p) => p.category === "options");
    expect(opt.some((p) => p.message.includes("--fa-thr"))).toBe(true);
    expect(opt.some((p) => p.message.includes("subjects[0].options.sh_order"))).toBe(true);
    expect(opt.some((p) => p.message.includes("subjects[1].options.min_length"))).toBe(true);
    // coil_count from the command line conflicts with the manifest's mppca, reported per task.
    const coil = problems.filter((p) => p.message.includes("coil_count") && p.subject !== null);
    expect(coil.map((p) => p.subject)).toEqual(["sub-3"]);
  });
});

describe("createPlan: preflight", () => {
  it("collects every problem before failing and writes nothing", async () => {
    const dir = fresh("man");
    await writeNiftiSet(path.join(dir, "ok"), "ok");
    await writeNiftiSet(path.join(dir, "nobval"), "nb", { bval: false });
    await writeDicomSeries(path.join(dir, "two"), { seriesUid: "3.1", seriesNumber: 1, count: 1 });
    await writeDicomSeries(path.join(dir, "two"), { seriesUid: "3.2", seriesNumber: 2, count: 1 });
    const manifest = await writeManifest(dir, {
      subjects: [
        { id: "sub-1", nifti: "ok/ok_dwi.nii.gz" },
        { id: "1", nifti: "ok/ok_dwi.nii.gz" },
        { id: "sub-2", nifti: "missing_dwi.nii.gz" },
        { id: "sub-3", nifti: "nobval/nb_dwi.nii.gz" },
        { id: "sub-4", dicom: "two" },
        { id: "sub-5;rm -rf", nifti: "ok/ok_dwi.nii.gz" },
        { id: "sub-6", nifti: "ok/ok_dwi.nii.gz", options: { fa_thr: -1 } },
        { id: "sub-7", nifti: "ok/ok_dwi.nii.gz" },
        { id: "sub-7", session: "ses-1", nifti: "ok/ok_dwi.nii.gz" },
      ],
    });
    const outFile = path.join(dir, "out-is-a-file");
    await fsp.writeFile(outFile, "x");
    const o = await createPlan({ manifest, out: outFile, csttool: path.join(dir, "no-such-csttool") });
    const problems = problemsOf(o);
    const cats = new Set(problems.filter((p) => p.severity === "error").map((p) => p.category));
    for (const c of ["duplicate", "input", "dicom", "id", "options", "csttool", "output"]) expect(cats.has(c as never)).toBe(true);
    expect(problems.filter((p) => p.category === "duplicate").map((p) => p.subject).sort()).toEqual(["sub-1", "sub-7"]);
    for (const p of problems) expect(Object.keys(p).sort()).toEqual(["category", "fix", "message", "session", "severity", "subject"]);
    await expect(fsp.stat(path.join(outFile, ".cst-batch"))).rejects.toThrow();
  });

  it("checks free disk: --min-free-gb above the free space is an error, --skip-disk-check turns it off", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }]);
    const out = fresh("out");
    const p = problemsOf(await createPlan(base({ bidsDir: bids, out, minFreeGb: 1e9 })));
    expect(p.map((x) => x.category)).toEqual(["disk"]);
    const ok = planned(await createPlan(base({ bidsDir: bids, out, minFreeGb: 1e9, skipDiskCheck: true })));
    expect(ok.preview.disk).toMatchObject({ checked: false, basis: "skipped" });
    const est = planned(await createPlan(base({ bidsDir: bids, out })));
    expect(est.preview.disk).toMatchObject({ checked: true, basis: "estimate" });
    expect(est.preview.disk!.required_bytes).toBeGreaterThanOrEqual(300 * 1024 * 1024);
  });

  it("refuses --out equal to the BIDS folder", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }]);
    expect(problemsOf(await createPlan(base({ bidsDir: bids, out: bids }))).map((p) => p.category)).toContain("output");
  });

  it("csttool: resolved on PATH to an absolute path, version probed; --csttool-version skips the probe", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }]);
    const binDir = path.join(tmp, "pathbin");
    const onPath = await makeVersionOnlyCsttool(binDir, { version: "1.2.3" });
    const a = planned(await createPlan({ bidsDir: bids, out: fresh("out"), env: { ...process.env, PATH: `${binDir}:/usr/bin:/bin` } }));
    expect(a.plan.csttool).toEqual({ executable: onPath, version: "1.2.3" });
    expect(csttoolArgv(a.plan.csttool.executable, (await a.loadPlan()).tasks[0]!, "/study/sub-01")[0]).toBe(onPath);
    const broken = await makeVersionOnlyCsttool(path.join(tmp, "brokenbin"), { versionExitCode: 3 });
    const b = problemsOf(await createPlan({ bidsDir: bids, out: fresh("out"), csttool: broken }));
    expect(b.map((p) => p.category)).toEqual(["csttool"]);
    const c = planned(await createPlan({ bidsDir: bids, out: fresh("out"), csttool: broken, csttoolVersion: "0.5.1" }));
    expect(c.plan.csttool).toEqual({ executable: broken, version: "0.5.1" });
    const d = planned(await createPlan({ bidsDir: bids, out: fresh("out"), csttool: "csttool-in-container", csttoolVersion: "0.5.0", env: { PATH: "/nonexistent" } }));
    expect(d.plan.csttool.executable).toBe("csttool-in-container");
    expect(d.preview.warnings.map((w) => w.category)).toContain("csttool");
    const e = problemsOf(await createPlan({ bidsDir: bids, out: fresh("out"), csttool: "csttool", env: { PATH: "/nonexistent" } }));
    expect(e.map((p) => p.category)).toEqual(["csttool"]);
  });

  it("skipped subjects are warnings: the plan is still written", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02", anatOnly: true }]);
    const o = planned(await createPlan(base({ bidsDir: bids, out: fresh("out") })));
    expect(o.plan.task_count).toBe(1);
    expect(o.plan.skipped.map((s) => s.subject)).toEqual(["sub-02"]);
    expect(o.preview.warnings.map((w) => w.subject)).toEqual(["sub-02"]);
  });

  it("all subjects skipped is an error", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-02", anatOnly: true }]);
    expect(problemsOf(await createPlan(base({ bidsDir: bids, out: fresh("out") }))).some((p) => p.severity === "error")).toBe(true);
  });
});

describe("loadPlan / loadPlanTask", () => {
  let planPath: string;
  let plan: Plan;
  beforeAll(async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02" }]);
    const o = planned(await createPlan(base({ bidsDir: bids, out: fresh("out") })));
    planPath = o.planPath;
    plan = await o.loadPlan();
  });

  it("loads one task with the header", async () => {
    const { header, task } = await loadPlanTask(planPath, 1);
    expect(header.plan_id).toBe(plan.plan_id);
    expect(task).toEqual(plan.tasks[1]);
  });

  it("throws CstError naming the path for missing, corrupt, newer plans and bad indices", async () => {
    const missing = path.join(tmp, "nope.json");
    await expect(loadPlan(missing)).rejects.toBeInstanceOf(CstError);
    await expect(loadPlanTask(missing, 0)).rejects.toThrow(missing);
    const corrupt = path.join(tmp, "corrupt.json");
    await fsp.writeFile(corrupt, "{ not json");
    await expect(loadPlan(corrupt)).rejects.toMatchObject({ code: "CORRUPT_STATE" });
    await expect(loadPlanTask(corrupt, 0)).rejects.toMatchObject({ code: "CORRUPT_STATE" });
    const newer = path.join(tmp, "newer.json");
    await fsp.writeFile(newer, JSON.stringify({ ...plan, schema_version: 99 }));
    await expect(loadPlan(newer)).rejects.toMatchObject({ code: "NEWER_SCHEMA" });
    await expect(loadPlanTask(newer, 0)).rejects.toMatchObject({ code: "NEWER_SCHEMA" });
    await expect(loadPlanTask(planPath, 2)).rejects.toMatchObject({ code: "INVALID_INPUT" });
    const badTask = path.join(tmp, "badtask.jsonl");
    const lines = (await fsp.readFile(planPath, "utf8")).split("\n");
    lines[2] = lines[2]!.replace('"subject":"sub-02"', '"subject":"sub 02"');
    await fsp.writeFile(badTask, lines.join("\n"));
    await expect(loadPlanTask(badTask, 0)).resolves.toBeTruthy();
    await expect(loadPlanTask(badTask, 1)).rejects.toMatchObject({ code: "CORRUPT_STATE" });
    await expect(loadPlan(badTask)).rejects.toMatchObject({ code: "CORRUPT_STATE" });
  });
});

describe("reading a plan: task N at its offsets, streaming refs, schema 1", () => {
  const refsOf = (p: Plan) => p.tasks.map(planTaskRef);
  let out: string;
  let o: Extract<PlanOutcome, { kind: "planned" }>;
  /** The tasks as the planner built them (a dry run keeps them in memory), with the written plan's header. */
  let built: Plan;
  beforeAll(async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02", sessions: ["ses-1", "ses-2"] }, { id: "sub-03" }]);
    out = fresh("out");
    o = planned(await createPlan(base({ bidsDir: bids, out })));
    const dry = planned(await createPlan(base({ bidsDir: bids, out, dryRun: true })));
    expect(dry.plan.plan_id).toBe(o.plan.plan_id);
    built = { ...o.plan, tasks: (await dry.loadPlan()).tasks };
  });

  it("the written plan holds exactly the tasks the planner built", async () => {
    expect(await o.loadPlan()).toEqual(built);
  });

  it("run-one's task N is the same through the offsets file, without it, and with another plan's offsets", async () => {
    const copy = path.join(tmp, `copy${n++}.jsonl`);
    await fsp.copyFile(o.planPath, copy);
    for (let i = 0; i < o.plan.task_count; i++) expect((await loadPlanTask(o.planPath, i)).task).toEqual(built.tasks[i]);
    // No offsets file beside the copy: its lines are read in order.
    for (let i = 0; i < o.plan.task_count; i++) expect((await loadPlanTask(copy, i)).task).toEqual(built.tasks[i]);
    // Offsets that do not match the file (all pointing at task 0's line) are not trusted.
    const idx = await fsp.readFile(o.planPath.replace(/\.jsonl$/, ".idx"));
    const wrong = Buffer.from(idx);
    for (let k = 1; k <= o.plan.task_count; k++) idx.copy(wrong, 8 + 8 * k, 8, 16);
    await fsp.writeFile(copy.replace(/\.jsonl$/, ".idx"), wrong);
    for (let i = 0; i < o.plan.task_count; i++) expect((await loadPlanTask(copy, i)).task).toEqual(built.tasks[i]);
  });

  it("status and collect stream the task lines into refs", async () => {
    expect(await loadPlanRefs(path.join(out, ".cst-batch", "plan.jsonl"), out)).toEqual({ ...o.plan, tasks: refsOf(built) });
  });

  it("a plan cut short, or with a task line too many or too few, is damaged", async () => {
    const text = await fsp.readFile(o.planPath, "utf8");
    const lines = text.split("\n");
    const variants: [string, string][] = [
      ["cut", text.slice(0, -5)],
      ["extra line", text + lines[1] + "\n"],
      ["missing line", [lines[0], ...lines.slice(2)].join("\n")],
      ["header line cut", lines[0]!.slice(0, 40)],
    ];
    for (const [what, bad] of variants) {
      const file = path.join(tmp, `damaged${n++}.jsonl`);
      await fsp.writeFile(file, bad);
      await expect(loadPlan(file), what).rejects.toMatchObject({ code: "CORRUPT_STATE" });
    }
  });

  it("a schema-1 plan (one JSON object, argv baked in) is still read: the same tasks, argv built as it was baked", async () => {
    const { tasks, input_root: _root, ...header } = built;
    const v1Tasks = tasks.map((t) => ({
      index: t.index,
      key: t.key,
      subject: t.subject,
      session: t.session,
      input: t.input,
      options: t.options,
      csttool_argv: csttoolArgv(header.csttool.executable, t, path.join(out, t.output_dir)),
      dicom_link_dir: linkedSeries(t) ? path.join(out, t.output_dir, "_work", "dicom-series") : null,
      output_dir: t.output_dir,
      log_file: path.join("logs", `${t.key}.log`),
      config_hash: t.config_hash,
    }));
    const v1 = { ...header, schema_version: 1, tasks: v1Tasks };
    const file = path.join(out, ".cst-batch", "plan.json");
    await fsp.writeFile(file, JSON.stringify(v1, null, 2) + "\n");
    const loaded = await loadPlan(file);
    expect(loaded).toEqual({ ...header, schema_version: 1, input_root: "", tasks });
    const { task, header: h } = await loadPlanTask(file, 2);
    expect(task).toEqual(tasks[2]);
    expect(csttoolArgv(h.csttool.executable, task, path.join(out, task.output_dir))).toEqual(v1Tasks[2]!.csttool_argv);
    expect((await loadPlanRefs(file, out)).tasks).toEqual(refsOf(built));
    await fsp.rm(file);
  });

  it("a task line holds no path twice over: no argv, no output folder, inputs relative to the BIDS folder", async () => {
    const line = (await fsp.readFile(o.planPath, "utf8")).split("\n")[1]!;
    expect(line).not.toContain(out);
    expect(line).not.toContain(o.plan.input_root);
    expect(Buffer.byteLength(line)).toBeLessThan(800);
  });
});
