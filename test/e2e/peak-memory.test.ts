import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { parseCsv, readJson, runCli, STANDIN, tempDir } from "../helpers/cli.js";

/**
 * The peak memory in the records, the CSV and the summary is the subject's real peak: a stand-in
 * that holds 700 MB for 0.2 s and exits (far shorter than any /proc sampling interval after the
 * first) reports 650-800 MB, from the reaped children's ru_maxrss.
 */
describe("peak memory through the built CLI (local mode)", () => {
  it("a subject that holds 700 MB for 0.2 s reports 650-800 MB, from rusage, in _done.json, the CSV, the summary, the report and status", async () => {
    const dir = tempDir("cst-e2e-peak-");
    const bids = await makeBidsDataset(path.join(dir, "bids"), [{ id: "sub-01" }, { id: "sub-02" }]);
    const config = path.join(dir, "standin.json");
    writeFileSync(config, JSON.stringify({ "sub-01": "alloc:700:0.2" }));
    const out = path.join(dir, "out");
    const r = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--jobs", "1", "--skip-disk-check"], {
      env: { CSTTOOL_STANDIN_CONFIG: config },
    });
    expect(r.code, r.stderr).toBe(EXIT.OK);

    const done = readJson(path.join(out, "sub-01", "_done.json"));
    expect(done.max_rss_source).toBe("rusage");
    expect(done.max_rss_kb / 1024).toBeGreaterThanOrEqual(650);
    expect(done.max_rss_kb / 1024).toBeLessThanOrEqual(800);
    // the other subject allocates nothing: its figure is its own, not the neighbour's
    const other = readJson(path.join(out, "sub-02", "_done.json"));
    expect(other.max_rss_kb / 1024).toBeLessThan(300);

    const csv = parseCsv(readFileSync(path.join(out, "batch_metrics.csv"), "utf8"));
    const head = csv[0]!;
    const row = csv.find((c) => c[0] === "sub-01")!;
    expect(Number(row[head.indexOf("max_rss_kb")])).toBe(done.max_rss_kb);
    expect(row[head.indexOf("max_rss_source")]).toBe("rusage");
    const summary = readJson(path.join(out, "batch_summary.json"));
    expect(summary.tasks.find((t: { subject: string }) => t.subject === "sub-01")).toMatchObject({ max_rss_kb: done.max_rss_kb, max_rss_source: "rusage" });

    // the report: its data carries the source beside the figure, and the memory chart shows it
    const html = readFileSync(path.join(out, "batch_report.html"), "utf8");
    const data = JSON.parse(/<script type="application\/json" id="report-data">([^<]*)<\/script>/.exec(html)![1]!);
    const reportRow = data.rows.find((r: unknown[]) => r[data.cols.indexOf("key")] === "sub-01");
    expect(reportRow[data.cols.indexOf("max_rss_mb")]).toBe(Math.round(done.max_rss_kb / 1024));
    expect(reportRow[data.cols.indexOf("max_rss_source")]).toBe("rusage");
    const charts = JSON.parse(/<script type="application\/json" id="report-charts">([^<]*)<\/script>/.exec(html)![1]!);
    const memory = charts.find((c: { id: string }) => c.id === "memory");
    expect(memory.spec.encoding.shape.field).toBe("source");
    expect(html).toContain("peak mem (GB, source)");

    // status: the figure with its source, in --json and in the row
    const json = runCli(["status", "--out", out, "--json"]);
    expect(json.code, json.stderr).toBe(EXIT.OK);
    const task = JSON.parse(json.stdout).tasks.find((t: { subject: string }) => t.subject === "sub-01");
    expect(task).toMatchObject({ max_rss_kb: done.max_rss_kb, max_rss_source: "rusage" });
    const human = runCli(["status", "--out", out, "--all"]);
    expect(human.code, human.stderr).toBe(EXIT.OK);
    expect(human.stdout).toContain("maxrss (source)");
    expect(human.stdout).toMatch(new RegExp(`^sub-01\\b.*\\b${Math.round(done.max_rss_kb / 1024)}M rusage\\b`, "m"));
  });
});
