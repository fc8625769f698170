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
  it("a subject that holds 700 MB for 0.2 s reports 650-800 MB, from rusage, in _done.json, the CSV and the summary", async () => {
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
  });
});
