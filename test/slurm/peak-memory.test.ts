import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseCsv, readJson, STANDIN, startCli, tempDir } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";

/** The true peak on the real Slurm: 700 MB held for 0.2 s shows as 650-800 MB in the record and the CSV collect wrote. */
const haveSlurm = requireSlurmOrSkip();

describe.skipIf(!haveSlurm)("peak memory on the local Slurm", { timeout: 240_000 }, () => {
  it("a subject that holds 700 MB for 0.2 s reports 650-800 MB with its source, in _done.json and collect's CSV", async () => {
    const dir = tempDir("cst-slurm-peak-");
    const bids = await makeBidsDataset(path.join(dir, "bids"), [{ id: "sub-01" }]);
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-01": "alloc:700:0.2" }));
    const out = path.join(dir, "out");
    const env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const r = await startCli(
      ["submit", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--json", "--skip-disk-check", "--scheduler", "slurm", "--time", "5m", "--mem", "2G"],
      { env },
    ).done;
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as { job_ids: string[]; collect_job_id: string };
    await waitForSlurmJobsGone([...json.job_ids, json.collect_job_id], 200_000);

    const done = readJson(path.join(out, "sub-01", "_done.json"));
    expect(["rusage", "cgroup"]).toContain(done.max_rss_source);
    expect(done.max_rss_kb / 1024).toBeGreaterThanOrEqual(650);
    expect(done.max_rss_kb / 1024).toBeLessThanOrEqual(800);
    const csv = parseCsv(readFileSync(path.join(out, "batch_metrics.csv"), "utf8"));
    const row = csv.find((c) => c[0] === "sub-01")!;
    expect(Number(row[csv[0]!.indexOf("max_rss_kb")])).toBe(done.max_rss_kb);
    expect(row[csv[0]!.indexOf("max_rss_source")]).toBe(done.max_rss_source);
  });
});
