import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { parseCsv, readJson, runCli, STANDIN, tempDir } from "../helpers/cli.js";
import { readCurrentPlan } from "../helpers/plan-file.js";
import { fakeSlurm } from "../helpers/fake-slurm.js";

/**
 * The scheduler's MaxRSS against run-one's own peak, through the built CLI with Slurm's commands
 * faked on PATH (as test/e2e/scheduler-verdict.test.ts): when sacct knows a larger peak for the
 * element that ran a subject, collect records it (source sacct, run-one's figure kept beside it)
 * and the CSV, summary, report and status show it; a smaller sacct figure changes nothing.
 */


describe("the scheduler's larger MaxRSS wins (built CLI, sacct faked)", () => {
  it("sacct's 900 MB MaxRSS replaces run-one's ~700 MB rusage peak (source sacct, own figure kept) in _done.json, the CSV, the summary, the report and status; a subject whose sacct figure is smaller keeps its own", async () => {
    const dir = tempDir("cst-sched-peak-");
    const bids = await makeBidsDataset(path.join(dir, "bids"), [{ id: "sub-01" }, { id: "sub-02" }]);
    const config = path.join(dir, "standin.json");
    writeFileSync(config, JSON.stringify({ "sub-01": "alloc:700:0.2" }));
    const out = path.join(dir, "out");
    const bin = fakeSlurm(dir);
    const env = { XDG_CONFIG_HOME: path.join(dir, "xdg"), PATH: `${bin}:${process.env.PATH ?? ""}`, CSTTOOL_STANDIN_CONFIG: config };
    const sub = runCli(["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--mem", "2G", "--no-profile", "--json"], { env });
    expect(sub.code, sub.stderr).toBe(EXIT.OK);
    const plan = readCurrentPlan(out);
    const planFile = path.join(out, ".cst-batch", "plan.jsonl");
    const index = (subject: string) => plan.tasks.find((t) => t.subject === subject)!.index;
    // run-one as the array elements 1001_<i> would run it
    for (const subject of ["sub-01", "sub-02"]) {
      const i = index(subject);
      const r = runCli(["run-one", "--plan", planFile, "--index", String(i)], { env: { ...env, SLURM_ARRAY_JOB_ID: "1001", SLURM_ARRAY_TASK_ID: String(i), SLURM_JOB_ID: String(1002 + i) } });
      expect(r.code, r.stderr).toBe(EXIT.OK);
    }
    const own1 = readJson(path.join(out, "sub-01", "_done.json"));
    const own2 = readJson(path.join(out, "sub-02", "_done.json"));
    expect(own1.job_id).toBe(`1001_${index("sub-01")}`);
    expect(own1.max_rss_source).toBe("rusage");
    expect(own1.max_rss_kb / 1024).toBeGreaterThanOrEqual(650);
    expect(own1.max_rss_kb / 1024).toBeLessThanOrEqual(800);
    // an instant subject's own peak may come from rusage or, under load, from the sampler (the
    // process group's sum); either way it is the figure sub-02 keeps
    expect(["rusage", "sampled"]).toContain(own2.max_rss_source);
    const small = Math.max(1, Math.floor(own2.max_rss_kb / 2));
    writeFileSync(
      path.join(bin, "sacct.out"),
      [
        `1001_${index("sub-01")}|1002|COMPLETED|0:0|00:00:03||localhost`,
        `1001_${index("sub-01")}.batch|1002.batch|COMPLETED|0:0|00:00:03|921600K|localhost`,
        `1001_${index("sub-02")}|1003|COMPLETED|0:0|00:00:02||localhost`,
        `1001_${index("sub-02")}.batch|1003.batch|COMPLETED|0:0|00:00:02|${small}K|localhost`,
        "",
      ].join("\n"),
    );

    const col = runCli(["collect", "--out", out, "--json"], { env });
    expect(col.code, col.stderr).toBe(EXIT.OK);
    const done1 = readJson(path.join(out, "sub-01", "_done.json"));
    expect(done1).toMatchObject({ max_rss_kb: 921600, max_rss_source: "sacct", max_rss_own: { kb: own1.max_rss_kb, source: own1.max_rss_source } });
    // the rest of the record is run-one's, unchanged
    expect({ ...done1, max_rss_kb: own1.max_rss_kb, max_rss_source: own1.max_rss_source, max_rss_own: undefined }).toEqual({ ...own1, max_rss_own: undefined });
    expect(readJson(path.join(out, "sub-02", "_done.json"))).toEqual(own2);

    const csv = parseCsv(readFileSync(path.join(out, "batch_metrics.csv"), "utf8"));
    const head = csv[0]!;
    const row = (s: string) => csv.find((c) => c[0] === s)!;
    expect([row("sub-01")[head.indexOf("max_rss_kb")], row("sub-01")[head.indexOf("max_rss_source")]]).toEqual(["921600", "sacct"]);
    expect([Number(row("sub-02")[head.indexOf("max_rss_kb")]), row("sub-02")[head.indexOf("max_rss_source")]]).toEqual([own2.max_rss_kb, own2.max_rss_source]);
    const summary = readJson(path.join(out, "batch_summary.json"));
    expect(summary.tasks.find((t: { subject: string }) => t.subject === "sub-01")).toMatchObject({ max_rss_kb: 921600, max_rss_source: "sacct" });
    const html = readFileSync(path.join(out, "batch_report.html"), "utf8");
    const data = JSON.parse(/<script type="application\/json" id="report-data">([^<]*)<\/script>/.exec(html)![1]!);
    const reportRow = data.rows.find((r: unknown[]) => r[data.cols.indexOf("key")] === "sub-01");
    expect([reportRow[data.cols.indexOf("max_rss_mb")], reportRow[data.cols.indexOf("max_rss_source")]]).toEqual([900, "sacct"]);

    // status shows the recorded figure without asking sacct again (nothing is unfinished)
    const calls = readFileSync(path.join(bin, "calls.log"), "utf8").split("\n").filter((l) => l.startsWith("sacct")).length;
    const st = runCli(["status", "--out", out, "--json"], { env });
    expect(st.code, st.stderr).toBe(EXIT.OK);
    expect(JSON.parse(st.stdout).tasks.find((t: { subject: string }) => t.subject === "sub-01")).toMatchObject({ max_rss_kb: 921600, max_rss_source: "sacct" });
    expect(readFileSync(path.join(bin, "calls.log"), "utf8").split("\n").filter((l) => l.startsWith("sacct")).length).toBe(calls);

    // a second collect finds nothing more to record
    const again = runCli(["collect", "--out", out], { env });
    expect(again.code, again.stderr).toBe(EXIT.OK);
    expect(again.stderr + again.stdout).not.toMatch(/larger peak memory/);
    expect(readJson(path.join(out, "sub-01", "_done.json"))).toEqual(done1);
  });
});
