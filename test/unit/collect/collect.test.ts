import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect } from "../../../src/collect/collect.js";
import { CstError, EXIT } from "../../../src/errors.js";
import { type Plan, type PlanTask } from "../../../src/schemas/records.js";
import { SummarySchema } from "../../../src/schemas/study-records.js";
import {
  csvRecords,
  fullMetricsSpec,
  lockFile,
  makeTempOut,
  metricsJsonText,
  parseCsv,
  writeAttemptStart,
  writeCorruptAttempt,
  writeCorruptDone,
  writeDone,
  writeFailedAttempt,
  writeLogs,
  writeMetricsLegacy,
  writeMetricsReports,
  writePlan,
  type MetricsSpec,
} from "../../helpers/collect-fixtures.js";
import { LOCK_OWNER, LockHolders } from "../../helpers/collect-lock.js";

/** The aggregate CSV columns exactly as the csttool contract lists them, then cst-batch's own. */
function expectedHeader(): string[] {
  const head = [
    "subject_id", "session_id", "status", "error_category", "duration_seconds", "error",
    "left_n_streamlines", "right_n_streamlines", "left_mean_length_mm", "right_mean_length_mm",
    "left_tract_volume_mm3", "right_tract_volume_mm3", "volume_laterality_index", "streamline_count_laterality_index",
  ];
  const fa = [
    "left_fa_mean", "left_fa_std", "right_fa_mean", "right_fa_std", "fa_laterality_index",
    "left_fa_pontine", "right_fa_pontine", "fa_pontine_laterality_index",
    "left_fa_plic", "right_fa_plic", "fa_plic_laterality_index",
    "left_fa_precentral", "right_fa_precentral", "fa_precentral_laterality_index",
  ];
  const scalars = ["fa", "md", "rd", "ad"].flatMap((s) => fa.map((c) => c.replace("fa", s)));
  return [...head, ...scalars, "attempts", "host", "job_id", "max_rss_kb", "max_rss_source", "config_hash", "metrics_file"];
}

let out: string;
let cleanup: () => void;
const locks = new LockHolders();

beforeEach(() => {
  ({ out, cleanup } = makeTempOut());
});
afterEach(async () => {
  await locks.stopAll();
  cleanup();
});

const read = (name: string): string => readFileSync(path.join(out, name), "utf8");

/** Mixed study: success in both metrics layouts, a failure, corrupt state, never run, outdated. */
function buildStudy(): { plan: Plan; corruptDone: string; corruptAttempt: string } {
  const plan = writePlan(out, [
    { subject: "sub-001", session: "ses-01" },
    { subject: "sub-001", session: "ses-02" },
    { subject: "sub-002", session: "ses-01" },
    { subject: "sub-003", session: "ses-01" },
    { subject: "sub-004", session: "ses-01" },
    { subject: "sub-005", session: "ses-01" },
    { subject: "sub-006", session: "ses-01" },
  ]);
  const [t0, t1, t2, t3, t5, t6] = [0, 1, 2, 3, 5, 6].map((i) => plan.tasks[i]!) as [PlanTask, PlanTask, PlanTask, PlanTask, PlanTask, PlanTask];

  // t0: csttool 0.5 layout, named by _done.json; a few Python NaN / Infinity tokens.
  const full = fullMetricsSpec();
  full.left!.scalars!.fa!.plic = "NaN";
  full.asymmetry!.md_precentral = "-Infinity";
  full.right!.tract_volume = "Infinity";
  const rel0 = writeMetricsReports(out, t0, metricsJsonText({ ...full, subjectId: "sub-001" }));
  writeDone(out, t0, { metricsFile: rel0, durationSeconds: 3600.125, host: "node01", jobId: "100_0", maxRssKb: 2048000 });
  writeLogs(out, t0, false);

  // t1: older layout, not named by _done.json; no rd / ad blocks, no regional values.
  const partial: MetricsSpec = {
    left: { n_streamlines: 900, mean_length: 100.5, tract_volume: 15000, scalars: { fa: { mean: 0.45, std: 0.1 }, md: { mean: 0.0007, std: 0.00004 } } },
    right: { n_streamlines: 950, mean_length: 101.5, tract_volume: 15500, scalars: { fa: { mean: 0.46, std: 0.11 }, md: { mean: 0.00071, std: 0.00005 } } },
    asymmetry: { volume: -0.016, streamline_count: -0.027, fa: -0.011, md: -0.007 },
  };
  writeMetricsLegacy(out, t1, metricsJsonText(partial));
  writeDone(out, t1, { metricsFile: null, durationSeconds: 10, jobId: null, maxRssKb: null });

  // t2: two failures, the latest a TIMEOUT whose message needs CSV quoting.
  writeFailedAttempt(out, t2, { category: "PIPELINE_FAILED", finishedAt: "2026-01-03T01:00:00.000Z" });
  writeFailedAttempt(out, t2, {
    category: "TIMEOUT",
    finishedAt: "2026-01-03T05:00:00.000Z",
    message: 'csttool ran past 120 min, "tracking" step',
    logTail: ["step 3/5: tracking", "Killed"],
    durationSeconds: 7230.5,
    host: "node03",
    jobId: "100_2",
    maxRssKb: 512,
  });
  writeLogs(out, t2, true);

  // t3: a damaged _done.json must not count as done.
  const corruptDone = writeCorruptDone(out, t3);
  // t4: never run.
  // t5: success with an earlier damaged attempt record.
  const corruptAttempt = writeCorruptAttempt(out, t5);
  writeMetricsReports(out, t5, metricsJsonText(fullMetricsSpec()));
  writeDone(out, t5);
  // t6: finished under an older config.
  writeMetricsReports(out, t6, metricsJsonText(fullMetricsSpec()));
  writeDone(out, t6, { configHash: "older" });

  return { plan, corruptDone, corruptAttempt };
}

describe("collect", () => {
  it("writes the metrics CSV with the contract's exact column order, one row per task in plan order", async () => {
    buildStudy();
    await collect(out);
    const rows = parseCsv(read("batch_metrics.csv"));
    expect(rows[0]).toEqual(expectedHeader());
    expect(rows.slice(1).map((r) => [r[0], r[1], r[2]])).toEqual([
      ["sub-001", "ses-01", "success"],
      ["sub-001", "ses-02", "success"],
      ["sub-002", "ses-01", "failed"],
      ["sub-003", "ses-01", "pending"],
      ["sub-004", "ses-01", "pending"],
      ["sub-005", "ses-01", "success"],
      ["sub-006", "ses-01", "pending"],
    ]);
    for (const r of rows) expect(r).toHaveLength(expectedHeader().length);
    expect(read("batch_metrics.csv").endsWith("\r\n")).toBe(true);
  });

  it("prints metric values at full precision and leaves NaN, infinite and absent values empty", async () => {
    buildStudy();
    await collect(out);
    const [r0, r1] = csvRecords(read("batch_metrics.csv"));
    expect(r0).toMatchObject({
      duration_seconds: "3600.125",
      left_n_streamlines: "1520",
      left_mean_length_mm: "112.53125",
      left_tract_volume_mm3: "20345.5",
      right_tract_volume_mm3: "", // Infinity
      volume_laterality_index: "0.0117",
      left_fa_mean: "0.5123456789012345",
      left_fa_plic: "", // NaN
      right_fa_plic: "0.63",
      right_fa_mean: "0.498",
      right_ad_precentral: "7.1e-7",
      fa_plic_laterality_index: "-0.02",
      left_md_mean: "0.000712345678",
      left_md_std: "0.0000412",
      md_precentral_laterality_index: "", // -Infinity
      left_ad_precentral: "0.00123",
      attempts: "1",
      host: "node01",
      job_id: "100_0",
      max_rss_kb: "2048000",
      config_hash: "cfg-1",
      metrics_file: path.join("sub-001", "ses-01", "reports", "sub-001_ses-01_metrics.json"),
      error: "",
      error_category: "",
    });
    // Older layout found without _done.json naming it; missing rd / ad / regional blocks are empty.
    expect(r1).toMatchObject({
      left_n_streamlines: "900",
      fa_laterality_index: "-0.011",
      right_md_std: "0.00005",
      left_fa_pontine: "",
      fa_pontine_laterality_index: "",
      job_id: "",
      max_rss_kb: "",
      metrics_file: path.join("sub-001", "ses-02", "metrics", "sub-001_bilateral_metrics.json"),
    });
    for (const s of ["rd", "ad"]) {
      for (const c of ["left_S_mean", "right_S_std", "S_laterality_index", "left_S_precentral"]) expect(r1![c.replace("S", s)]).toBe("");
    }
  });

  it("a failed row carries category, the multi-line error (RFC 4180 quoted) and no metrics", async () => {
    buildStudy();
    await collect(out);
    const text = read("batch_metrics.csv");
    const r2 = csvRecords(text)[2]!;
    expect(r2).toMatchObject({
      status: "failed",
      error_category: "TIMEOUT",
      duration_seconds: "7230.5",
      attempts: "2",
      host: "node03",
      job_id: "100_2",
      max_rss_kb: "512",
      left_n_streamlines: "",
      metrics_file: "",
    });
    expect(r2.error).toBe('csttool ran past 120 min, "tracking" step\nstep 3/5: tracking\nKilled');
    expect(text).toContain('"csttool ran past 120 min, ""tracking"" step\nstep 3/5: tracking\nKilled"');
  });

  it("writes a valid summary: counts by status and category, one record per task, problems by path", async () => {
    const { corruptDone, corruptAttempt } = buildStudy();
    const result = await collect(out);
    const summary = SummarySchema.parse(JSON.parse(read("batch_summary.json")));
    expect(summary.counts).toEqual({ total: 7, success: 3, failed: 1, pending: 3, running: 0, stale: 0, invalid: 0, excluded: 0 });
    expect(summary.by_category).toEqual({ TIMEOUT: 1 });
    expect(summary.plan).toMatchObject({ plan_id: "plan-abc123", task_count: 7, path: path.join(out, ".cst-batch", "plan.json") });
    expect(summary.tasks).toHaveLength(7);
    expect(summary.tasks[2]).toEqual({
      index: 2,
      subject: "sub-002",
      session: "ses-01",
      status: "failed",
      category: "TIMEOUT",
      attempts: 2,
      duration_seconds: 7230.5,
      log_path: "logs/sub-002_ses-01.log",
      error_log_path: "logs/sub-002_ses-01_error.log",
      error: 'csttool ran past 120 min, "tracking" step\nstep 3/5: tracking\nKilled',
      host: "node03",
      job_id: "100_2",
      max_rss_kb: 512,
      max_rss_source: null,
      output_dir: "sub-002/ses-01",
    });
    expect(summary.tasks[0]).toMatchObject({ status: "success", error_log_path: null, category: null, error: null });
    expect(summary.tasks[3]).toMatchObject({ status: "pending", attempts: 0 });
    expect(summary.tasks[5]).toMatchObject({ status: "success", attempts: 1 });
    expect(result.problems.some((p) => p.includes(corruptDone))).toBe(true);
    expect(result.problems.some((p) => p.includes(corruptAttempt))).toBe(true);
    expect(summary.problems).toEqual(result.problems);
    expect(result.summary).toEqual(summary);
    expect(result.files.map((f) => path.basename(f)).sort()).toEqual(
      ["batch_metrics.csv", "batch_report.html", "batch_summary.json", "dataset_description.json", "participants.tsv"],
    );
  });

  it("writes BIDS derivative metadata naming csttool, cst-batch and the source dataset", async () => {
    buildStudy();
    await collect(out);
    const dd = JSON.parse(read("dataset_description.json"));
    expect(dd).toMatchObject({
      BIDSVersion: "1.9.0",
      DatasetType: "derivative",
      SourceDatasets: [{ URL: "file:///data/bids" }],
    });
    expect(typeof dd.Name).toBe("string");
    expect(dd.GeneratedBy).toHaveLength(2);
    expect(dd.GeneratedBy[0]).toEqual({ Name: "csttool", Version: "0.5.1" });
    expect(dd.GeneratedBy[1].Name).toBe("cst-batch");
    expect(typeof dd.GeneratedBy[1].Version).toBe("string");
    // Subjects with at least one success, with their number of successful sessions.
    expect(read("participants.tsv")).toBe("participant_id\tn_sessions\nsub-001\t2\nsub-005\t1\n");
  });

  it("a manifest plan without sessions: no SourceDatasets, the manifest's name, empty session_id", async () => {
    const plan = writePlan(out, [{ subject: "sub-01" }, { subject: "sub-02" }], {
      source: { type: "manifest", manifest_path: "/m.json", name: "Stroke CST", description: null },
    });
    writeMetricsReports(out, plan.tasks[0]!, metricsJsonText(fullMetricsSpec()));
    writeDone(out, plan.tasks[0]!);
    await collect(out);
    const dd = JSON.parse(read("dataset_description.json"));
    expect(dd.Name).toBe("Stroke CST");
    expect(dd).not.toHaveProperty("SourceDatasets");
    expect(read("participants.tsv")).toBe("participant_id\nsub-01\n");
    const rows = csvRecords(read("batch_metrics.csv"));
    expect(rows.map((r) => [r.subject_id, r.session_id, r.status])).toEqual([
      ["sub-01", "", "success"],
      ["sub-02", "", "pending"],
    ]);
  });

  it("is idempotent: a second run writes the same content except generated_at", async () => {
    buildStudy();
    await collect(out);
    const first = ["batch_metrics.csv", "dataset_description.json", "participants.tsv", "batch_summary.json"].map(read);
    await new Promise((r) => setTimeout(r, 5));
    await collect(out);
    const second = ["batch_metrics.csv", "dataset_description.json", "participants.tsv", "batch_summary.json"].map(read);
    expect(second.slice(0, 3)).toEqual(first.slice(0, 3));
    const strip = (s: string): unknown => ({ ...JSON.parse(s), generated_at: null });
    expect(strip(second[3]!)).toEqual(strip(first[3]!));
  });

  it("sync and async file reading write the same reports", async () => {
    buildStudy();
    await collect(out, { io: "sync" });
    const files = ["batch_metrics.csv", "dataset_description.json", "participants.tsv"];
    const viaSync = files.map(read);
    const summarySync = { ...JSON.parse(read("batch_summary.json")), generated_at: null };
    await collect(out, { io: "async", concurrency: 3 });
    expect(files.map(read)).toEqual(viaSync);
    expect({ ...JSON.parse(read("batch_summary.json")), generated_at: null }).toEqual(summarySync);
  });

  it("a task whose subject lock is held is reported as running", async () => {
    const plan = writePlan(out, [{ subject: "sub-001" }, { subject: "sub-002" }]);
    const task = plan.tasks[1]!;
    writeFailedAttempt(out, task, { category: "PREEMPTED" });
    writeAttemptStart(out, task);
    await locks.hold(lockFile(out, task), LOCK_OWNER);
    const { summary } = await collect(out);
    expect(summary.counts).toMatchObject({ running: 1, pending: 1, failed: 0 });
    expect(summary.tasks[1]).toMatchObject({ status: "running", host: "node09", job_id: "555_2", category: null, error: null });
    expect(csvRecords(read("batch_metrics.csv"))[1]).toMatchObject({ status: "running", error_category: "" });
  });

  it("a success whose metrics file is damaged keeps its status, has empty metrics and a problem", async () => {
    const plan = writePlan(out, [{ subject: "sub-001" }]);
    const rel = writeMetricsReports(out, plan.tasks[0]!, "{ not json");
    writeDone(out, plan.tasks[0]!, { metricsFile: rel });
    const result = await collect(out);
    const [row] = csvRecords(read("batch_metrics.csv"));
    expect(row).toMatchObject({ status: "success", left_fa_mean: "" });
    expect(result.problems.some((p) => p.includes(path.join(out, "sub-001", rel)))).toBe(true);
  });

  it("a success without any metrics file is reported as a problem", async () => {
    const plan = writePlan(out, [{ subject: "sub-001" }]);
    writeDone(out, plan.tasks[0]!);
    const result = await collect(out);
    expect(result.summary.counts.success).toBe(1);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toContain("no metrics JSON found");
  });

  it("without a plan it is a usage error telling to run `cst-batch plan`", async () => {
    const err = await collect(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CstError);
    expect((err as CstError).exitCode).toBe(EXIT.USAGE);
    expect(`${(err as CstError).message} ${(err as CstError).hint}`).toContain("cst-batch plan");
  });
});
