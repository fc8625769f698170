import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlan, loadPlan, loadPlanTask, type PlanOutcome } from "../../../src/plan/planner.js";
import { loadPlanRefs, planRefsPath, planTaskRef } from "../../../src/plan/load-plan.js";
import type { PlanRequest } from "../../../src/plan/request.js";
import { CstError } from "../../../src/errors.js";
import type { Plan } from "../../../src/schemas/records.js";
import { makeBidsDataset, makeTempDir, writeNiftiSet } from "../../helpers/plan-bids-maker.js";
import { writeDicomSeries } from "../../helpers/plan-dicom-writer.js";
import { makeVersionOnlyCsttool } from "../../helpers/plan-fake-csttool.js";

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

function planned(o: PlanOutcome): Extract<PlanOutcome, { kind: "planned" }> {
  if (o.kind !== "planned") throw new Error(`expected a plan, got problems:\n${o.problems.map((p) => `${p.severity} ${p.category} ${p.message}`).join("\n")}`);
  return o;
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
  it("writes plans/<plan_id>.json and an identical plan.json, tasks sorted with exact argv", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-02" }, { id: "sub-01", sessions: ["ses-b", "ses-a"] }]);
    const out = fresh("out");
    const o = planned(await createPlan(base({ bidsDir: bids, out, options: { fa_thr: 0.3, unring: true } })));
    expect(o.planPath).toBe(path.join(out, ".cst-batch", "plans", `${o.plan.plan_id}.json`));
    const immutable = await fsp.readFile(o.planPath, "utf8");
    expect(await fsp.readFile(path.join(out, ".cst-batch", "plan.json"), "utf8")).toBe(immutable);
    const plan = await loadPlan(o.planPath);
    expect(plan).toEqual(o.plan);
    expect(plan.tasks.map((t) => [t.index, t.key])).toEqual([
      [0, "sub-01_ses-a"],
      [1, "sub-01_ses-b"],
      [2, "sub-02"],
    ]);
    const t0 = plan.tasks[0]!;
    expect(t0.csttool_argv).toEqual([
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
    expect(t0).toMatchObject({ output_dir: path.join("sub-01", "ses-a"), log_file: path.join("logs", "sub-01_ses-a.log"), dicom_link_dir: null });
    expect(t0.config_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plan.tasks[2]!.csttool_argv).not.toContain("--session-id");
    expect(plan).toMatchObject({ kind: "cst-batch-plan", schema_version: 1, task_count: 3, out_dir: out, source: { type: "bids", bids_dir: bids }, csttool: { executable: csttool, version: "0.5.0" } });
    expect(plan.run).toEqual({ timeout_minutes: 120, grace_seconds: 30 });
    expect(o.preview).toMatchObject({ task_count: 3, by_input: { nifti: 3, dicom: 0 }, by_session: { "ses-a": 1, "ses-b": 1, "(none)": 1 }, resume: { done: 0, changed: 0, new: 3, to_run: 3 } });
  });

  it("a DICOM subject with series_uid gets a dicom_link_dir in _work and csttool is pointed at it", async () => {
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
    const [t1, t2] = o.plan.tasks;
    const link = path.join(out, "sub-1", "_work", "dicom-series");
    expect(t1!.dicom_link_dir).toBe(link);
    expect(t1!.csttool_argv.slice(0, 4)).toEqual([csttool, "run", "--dicom", link]);
    expect(t1!.input).toMatchObject({ kind: "dicom", dicom_dir: path.join(dir, "dcm"), series_uid: "1.7.1", identity: { file_count: 2 } });
    expect(t2!.dicom_link_dir).toBeNull();
    expect(t2!.csttool_argv.slice(2, 4)).toEqual(["--dicom", path.join(dir, "single")]);
    expect(o.plan.run.timeout_minutes).toBe(0.5);
    expect(o.plan.source).toMatchObject({ type: "manifest", manifest_path: manifest });
  });

  it("planning the same inputs twice gives the same plan_id, indices and hashes, and keeps the file", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02" }, { id: "sub-03" }]);
    const out = fresh("out");
    const a = planned(await createPlan(base({ bidsDir: bids, out, now: () => new Date("2020-01-01T00:00:00Z") })));
    const b = planned(await createPlan(base({ bidsDir: bids, out, now: () => new Date("2024-06-01T00:00:00Z") })));
    expect(b.plan.plan_id).toBe(a.plan.plan_id);
    expect(b.plan.tasks.map((t) => [t.index, t.key, t.config_hash])).toEqual(a.plan.tasks.map((t) => [t.index, t.key, t.config_hash]));
    expect(b.plan.created_at).toBe("2020-01-01T00:00:00.000Z");
    expect(await loadPlan(b.planPath)).toEqual(b.plan);
    expect(await loadPlan(path.join(out, ".cst-batch", "plan.json"))).toEqual(b.plan);
    // Same inputs into another folder: same config hashes (the output path is not part of them).
    const c = planned(await createPlan(base({ bidsDir: bids, out: fresh("out") })));
    expect(c.plan.tasks.map((t) => t.config_hash)).toEqual(a.plan.tasks.map((t) => t.config_hash));
    // Touching one input changes that task's hash only.
    const bvec = path.join(bids, "sub-02", "dwi", "sub-02_dwi.bvec");
    const later = new Date(Date.now() + 60_000);
    await fsp.utimes(bvec, later, later);
    const d = planned(await createPlan(base({ bidsDir: bids, out })));
    expect(d.plan.plan_id).not.toBe(a.plan.plan_id);
    const changed = d.plan.tasks.filter((t, i) => t.config_hash !== a.plan.tasks[i]!.config_hash).map((t) => t.key);
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
    expect(new Set([a, b, c].map((x) => x.plan.tasks[0]!.config_hash)).size).toBe(3);
  });

  it("re-planning counts done, changed and new tasks from _done.json", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02" }, { id: "sub-03" }]);
    const out = fresh("out");
    const first = planned(await createPlan(base({ bidsDir: bids, out })));
    const done = async (task: Plan["tasks"][number], hash: string): Promise<void> => {
      const dir = path.join(out, task.output_dir);
      await fsp.mkdir(dir, { recursive: true });
      const record = {
        schema_version: 1,
        kind: "cst-batch-done",
        subject: task.subject,
        session: task.session,
        task_key: task.key,
        config_hash: hash,
        plan_id: first.plan.plan_id,
        csttool_version: "0.5.0",
        cst_batch_version: "0.1.0",
        started_at: "2024-01-01T00:00:00Z",
        finished_at: "2024-01-01T01:00:00Z",
        duration_seconds: 3600,
        host: "node1",
        pid: 1,
        job_id: null,
        csttool_argv: task.csttool_argv,
        exit_code: 0,
        files: [],
        metrics_file: null,
      };
      await fsp.writeFile(path.join(dir, "_done.json"), JSON.stringify(record));
    };
    await done(first.plan.tasks[0]!, first.plan.tasks[0]!.config_hash);
    await done(first.plan.tasks[1]!, "sha256:old");
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
    expect(o.plan.tasks[0]!.options).toEqual({ fa_thr: 0.15, seed_density: 5, step_size: 0.4 });
    expect(o.plan.tasks[1]!.options).toEqual({ fa_thr: 0.1, seed_density: 5, step_size: 0.4 });
    expect(o.plan.options).toEqual({ fa_thr: 0.1, seed_density: 5, step_size: 0.4 });
    expect(o.plan.tasks[0]!.csttool_argv.slice(-6)).toEqual(["--fa-thr", "0.15", "--seed-density", "5", "--step-size", "0.4"]);
  });

  it("a command-line false overrides a manifest true (--no-X)", async () => {
    const dir = fresh("man");
    await writeNiftiSet(path.join(dir, "d1"), "s1");
    const manifest = await writeManifest(dir, { options: { generate_pdf: true }, subjects: [{ id: "sub-1", nifti: "d1/s1_dwi.nii.gz" }] });
    const o = planned(await createPlan(base({ manifest, out: fresh("out"), options: { generate_pdf: false } })));
    expect(o.plan.tasks[0]!.options.generate_pdf).toBe(false);
    expect(o.plan.tasks[0]!.csttool_argv).not.toContain("--generate-pdf");
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
    expect(a.plan.tasks[0]!.csttool_argv[0]).toBe(onPath);
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
    plan = o.plan;
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
    const badTask = path.join(tmp, "badtask.json");
    const broken = structuredClone(plan);
    (broken.tasks[1] as unknown as Record<string, unknown>).csttool_argv = [];
    await fsp.writeFile(badTask, JSON.stringify(broken));
    await expect(loadPlanTask(badTask, 0)).resolves.toBeTruthy();
    await expect(loadPlanTask(badTask, 1)).rejects.toMatchObject({ code: "CORRUPT_STATE" });
    await expect(loadPlan(badTask)).rejects.toMatchObject({ code: "CORRUPT_STATE" });
  });
});

describe("loadPlanRefs: the .refs.json sidecar", () => {
  const refsOf = (p: Plan) => p.tasks.map(planTaskRef);

  it("plan writes a sidecar beside both plan files; status and collect read the same refs with or without it", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02", sessions: ["ses-1", "ses-2"] }]);
    const out = fresh("out");
    const o = planned(await createPlan(base({ bidsDir: bids, out })));
    const current = path.join(out, ".cst-batch", "plan.json");
    for (const file of [o.planPath, current]) {
      const refs = JSON.parse(await fsp.readFile(planRefsPath(file), "utf8"));
      expect(refs).toMatchObject({ schema_version: 1, kind: "cst-batch-plan-refs", plan_id: o.plan.plan_id, plan_bytes: (await fsp.stat(file)).size });
      expect(refs.tasks).toEqual(refsOf(o.plan));
    }
    expect(planRefsPath(current)).toBe(path.join(out, ".cst-batch", "plan.refs.json"));
    const { tasks, ...header } = o.plan;
    const viaSidecar = await loadPlanRefs(current, out);
    expect(viaSidecar).toEqual({ ...header, tasks: refsOf(o.plan) });
    await fsp.rm(planRefsPath(current));
    expect(await loadPlanRefs(current, out)).toEqual(viaSidecar);
    void tasks;
  });

  it("a sidecar that does not belong to the plan file next to it is not used", async () => {
    const bids = await makeBidsDataset(fresh("bids"), [{ id: "sub-01" }, { id: "sub-02" }]);
    const out = fresh("out");
    const o = planned(await createPlan(base({ bidsDir: bids, out })));
    const current = path.join(out, ".cst-batch", "plan.json");
    const sidecar = planRefsPath(current);
    const good = JSON.parse(await fsp.readFile(sidecar, "utf8"));
    const expected = refsOf(o.plan);
    // A different output_dir marks which source the refs came from.
    const marked = (extra: Record<string, unknown>) =>
      JSON.stringify({ ...good, ...extra, tasks: good.tasks.map((t: { output_dir: string }) => ({ ...t, output_dir: `${t.output_dir}-sidecar` })) });
    for (const [what, text] of [
      ["another plan's refs", marked({ plan_id: "0000000000000000" })],
      ["refs of a plan file of another size", marked({ plan_bytes: good.plan_bytes + 1 })],
      ["a task missing", JSON.stringify({ ...good, tasks: good.tasks.slice(1) })],
      ["not JSON", "{ broken"],
      ["a newer schema", marked({ schema_version: 99 })],
    ] as const) {
      await fsp.writeFile(sidecar, text);
      expect((await loadPlanRefs(current, out)).tasks, what).toEqual(expected);
    }
    await fsp.writeFile(sidecar, marked({}));
    expect((await loadPlanRefs(current, out)).tasks.map((t) => t.output_dir)).toEqual(expected.map((t) => `${t.output_dir}-sidecar`));
  });
});
