import { describe, expect, it } from "vitest";
import { buildReportData, REPORT_METRICS, type ReportInput, type ReportRowInput } from "../../../src/report/data.js";
import { renderReportHtml } from "../../../src/report/html.js";
import { ReportRows } from "../../../src/report/report-rows.js";

function row(i: number, status: ReportRowInput["status"] = "success"): ReportRowInput {
  const id = `sub-${String(i).padStart(5, "0")}`;
  return {
    subject: id,
    session: null,
    status,
    category: status === "failed" ? "PIPELINE_FAILED" : null,
    durationSeconds: 3600,
    maxRssKb: 3_000_000,
    attempts: 1,
    host: "node01",
    logPath: `logs/${id}.log`,
    errorLogPath: null,
    error: null,
    htmlReport: null,
    // Every 97th subject far out: outliers the sample must not hide.
    metrics: status === "success" ? REPORT_METRICS.map(() => (i % 97 === 0 ? 9 : 0.5 + ((i * 7919) % 100) / 10_000)) : null,
  };
}

function input(rows: ReportRowInput[], extra: Partial<ReportInput> = {}): ReportInput {
  const counts = { total: rows.length, success: 0, failed: 0, pending: 0, running: 0, stale: 0 };
  for (const r of rows) counts[r.status]++;
  return { generatedAt: "2026-01-01T00:00:00Z", planId: "p1", csttoolVersion: "0.5.0", counts, byCategory: {}, problemCount: 0, rows, ...extra };
}

const study = (n: number): ReportRowInput[] => Array.from({ length: n }, (_, i) => row(i, i % 10 === 3 ? "failed" : "success"));

describe("the report's rows of a large study", () => {
  it("a study the page holds whole gives every row, no sample, and the outliers the page computed before", () => {
    const all = study(300);
    const rows = new ReportRows(300);
    for (const r of all) rows.add(r);
    const got = rows.result();
    expect(got.rows).toEqual(all);
    expect(got.sample).toBeNull();
    expect(got.outliers.length).toBeGreaterThan(0);
    expect(buildReportData(input(got.rows, { outliers: got.outliers })).outliers).toEqual(buildReportData(input(all)).outliers);
  });

  it("a larger study's page holds the cap: the failed first, a sample of the successful, in plan order, with the outliers of every subject", () => {
    const all = study(2000);
    const rows = new ReportRows(100);
    for (const r of all) rows.add(r);
    const got = rows.result();
    expect(got.rows).toHaveLength(100);
    expect(got.sample).toEqual({ total: 2000, shown: 100, succeeded: 1800, succeededShown: 50, others: 200, othersShown: 50 });
    const failedShown = got.rows.filter((r) => r.status === "failed").map((r) => r.subject);
    expect(failedShown).toEqual(all.filter((r) => r.status === "failed").slice(0, 50).map((r) => r.subject));
    const order = got.rows.map((r) => all.indexOf(r));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // Outliers over all 2,000 subjects, not only the 100 shown.
    expect(got.outliers).toEqual(buildReportData(input(all)).outliers);
    expect(got.outliers.some((o) => !got.rows.some((r) => r.subject === o.key))).toBe(true);
  });

  it("the sample is spread over the whole study and the same for the same study", () => {
    const all: ReportRowInput[] = study(5000).map((r) => ({ ...r, status: "success" }));
    const a = new ReportRows(200);
    const b = new ReportRows(200);
    for (const r of all) {
      a.add(r);
      b.add(r);
    }
    const ra = a.result().rows;
    expect(ra.map((r) => r.subject)).toEqual(b.result().rows.map((r) => r.subject));
    const positions = ra.map((r) => all.indexOf(r));
    // Every fifth of the study is represented (a uniform sample of 200 of 5,000).
    for (let q = 0; q < 5; q++) expect(positions.filter((p) => p >= q * 1000 && p < (q + 1) * 1000).length).toBeGreaterThan(15);
  });

  it("the page says what it holds of a sampled study", () => {
    const all = study(2000);
    const rows = new ReportRows(100);
    for (const r of all) rows.add(r);
    const got = rows.result();
    const data = buildReportData(input(got.rows, { sample: got.sample, outliers: got.outliers, counts: { total: 2000, success: 1800, failed: 200, pending: 0, running: 0, stale: 0 } }));
    const html = renderReportHtml(data, [], { bundle: null, nonce: "n" });
    expect(html).toContain("This study has 2000 subjects; this page holds 100 of them: 50 of the 200 that did not succeed");
    expect(html).toContain("a random sample of 50 of the 1800 successful ones");
    const whole = renderReportHtml(buildReportData(input(study(10))), [], { bundle: null, nonce: "n" });
    expect(whole).not.toContain("sample-note");
  });
});
