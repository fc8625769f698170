import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect } from "../../../src/collect/collect.js";
import { buildReportData, REPORT_METRICS, relativeHref, type ReportInput, type ReportRowInput } from "../../../src/report/data.js";
import { escapeHtml, jsonForScript, renderReportHtml } from "../../../src/report/html.js";
import { findOutliers, metricStats, quantileSorted } from "../../../src/report/outliers.js";
import { buildChartSpecs } from "../../../src/report/specs.js";
import { inlineScriptSafe, loadVegaBundle } from "../../../src/report/vega-bundle.js";
import { renderBatchReport } from "../../../src/report/write-report.js";
import { makeTempOut } from "../../helpers/collect-fixtures.js";
import { HOSTILE_ERROR, makeReportStudy } from "../../browser/report-study.js";

function row(i: number, over: Partial<ReportRowInput> = {}): ReportRowInput {
  return {
    subject: `sub-${String(i).padStart(4, "0")}`,
    session: null,
    status: "success",
    category: null,
    durationSeconds: 3600 + i,
    maxRssKb: 3_000_000,
    attempts: 1,
    host: "node01",
    logPath: `logs/sub-${String(i).padStart(4, "0")}.log`,
    errorLogPath: null,
    error: null,
    htmlReport: null,
    metrics: REPORT_METRICS.map(() => 0.5 + ((i * 7919) % 100) / 10_000),
    ...over,
  };
}

function input(rows: ReportRowInput[]): ReportInput {
  const counts = { total: rows.length, success: 0, failed: 0, pending: 0, running: 0, stale: 0 };
  for (const r of rows) counts[r.status]++;
  return { generatedAt: "2026-01-01T00:00:00Z", planId: "p1", csttoolVersion: "0.5.0", counts, byCategory: {}, problemCount: 0, rows };
}

describe("outliers", () => {
  it("quartiles interpolate linearly (numpy's default)", () => {
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75);
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBeCloseTo(2.5);
  });

  it("names values outside 1.5 IQR or with |z| > 3, most extreme first; too few values: none", () => {
    const values = [0.5, 0.51, 0.49, 0.5, 0.52, 0.48, 0.5, 0.9, null, 0.2];
    const found = findOutliers(values);
    expect(found.map((o) => o.index)).toEqual([7, 9]);
    expect(found[0]!.reason).toContain("> Q3 + 1.5 IQR");
    expect(findOutliers([1, 2, 100])).toEqual([]);
    expect(metricStats([1, 1, 1, 1, 1])!.sd).toBe(0);
    expect(findOutliers([1, 1, 1, 1, 1])).toEqual([]);
  });
});

describe("report data", () => {
  it("links are relative, percent-encoded, and never absolute or upward", () => {
    expect(relativeHref("logs/sub-01.log")).toBe("logs/sub-01.log");
    expect(relativeHref("sub-01/reports/a b#1.html")).toBe("sub-01/reports/a%20b%231.html");
    expect(relativeHref("/etc/passwd")).toBeNull();
    expect(relativeHref("../x")).toBeNull();
    expect(relativeHref(null)).toBeNull();
  });

  it("rows are compact arrays under one column list; outliers name their subject", () => {
    const rows = Array.from({ length: 40 }, (_, i) => row(i));
    rows[5] = row(5, { metrics: REPORT_METRICS.map(() => 0.95) });
    const data = buildReportData(input(rows));
    expect(data.rows).toHaveLength(40);
    expect(data.rows[0]).toHaveLength(data.cols.length);
    expect(new Set(data.outliers.map((o) => o.key))).toEqual(new Set(["sub-0005"]));
    expect(buildChartSpecs(data).map((c) => c.id)).toEqual(["status", "runtime", "memory", "fa", "laterality"]);
  });

  it("leaves out the memory and metric charts when nothing is known", () => {
    const data = buildReportData(input([row(1, { status: "pending", metrics: null, maxRssKb: null, durationSeconds: null })]));
    expect(buildChartSpecs(data).map((c) => c.id)).toEqual(["status", "runtime"]);
  });

  it("10,000 subjects: the page stays a few MB", async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => (i % 50 === 0 ? row(i, { status: "failed", category: "PIPELINE_FAILED", error: "E".repeat(2000), metrics: null }) : row(i)));
    const { html } = await renderBatchReport(input(rows));
    expect(html.length).toBeLessThan(6_000_000);
  });
});

describe("escaping", () => {
  it("escapeHtml and jsonForScript leave no markup", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    const json = jsonForScript({ e: HOSTILE_ERROR, s: "\u2028" });
    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual({ e: HOSTILE_ERROR, s: "\u2028" });
    expect(inlineScriptSafe('x="</SCRIPT>"')).toBe('x="<\\/SCRIPT>"');
  });

  it("a hostile error message appears only inside the escaped JSON data block", () => {
    const data = buildReportData(input([row(1, { status: "failed", category: "PIPELINE_FAILED", error: HOSTILE_ERROR, metrics: null })]));
    const html = renderReportHtml(data, buildChartSpecs(data), { bundle: null, nonce: "n0" });
    expect(html).not.toContain("alert(1)</script>");
    expect(html).not.toContain("<img");
    expect(html.match(/<script\b/g)).toHaveLength(3); // two JSON blocks and the page script
    expect(html).toContain("script-src 'nonce-n0'");
    expect(html).toContain("Charts are missing");
  });

  it("the Vega runtimes are inlined from node_modules, none contains a closing script tag", async () => {
    const v = await loadVegaBundle();
    expect(v.kind).toBe("ok");
    if (v.kind !== "ok") return;
    expect(Object.keys(v.bundle.versions)).toEqual(["vega", "vega-lite", "vega-embed"]);
    for (const s of v.bundle.scripts) expect(s).not.toMatch(/<\/script/i);
  });
});

describe("collect writes batch_report.html", () => {
  let tmp: { out: string; cleanup: () => void };
  beforeEach(() => {
    tmp = makeTempOut("cst-report-");
  });
  afterEach(() => tmp.cleanup());

  it("with every subject, relative links, csttool's HTML report and no network reference", async () => {
    const study = makeReportStudy(tmp.out, 12);
    const result = await collect(tmp.out);
    const file = path.join(tmp.out, "batch_report.html");
    expect(result.files).toContain(file);
    const html = readFileSync(file, "utf8");
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as ReturnType<typeof buildReportData>;
    expect(data.rows).toHaveLength(study.total);
    const col = (name: string): number => data.cols.indexOf(name);
    const failed = data.rows.find((r) => r[0] === study.hostileKey)!;
    expect(failed[col("log")]).toBe(`logs/${study.hostileKey}.log`);
    expect(failed[col("error_log")]).toBe(`logs/${study.hostileKey}_error.log`);
    expect(failed[col("error")]).toContain(HOSTILE_ERROR);
    const ok = data.rows.find((r) => r[0] === study.outlierKey)!;
    expect(ok[col("report")]).toBe(`${study.outlierKey}/reports/${study.outlierKey}_report.html`);
    expect(data.outliers.some((o) => o.key === study.outlierKey)).toBe(true);
    // Self-contained: no external scripts, styles or fetches.
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import/);
    expect(html).toContain(`content="default-src 'none';`);
  });
});
