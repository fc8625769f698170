import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCsv, readJson, STANDIN, startCli, tempDir } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { currentSlurmMode, startSlurmMode } from "../helpers/slurm-mode.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";

/**
 * Peak memory from the job's own cgroup on the real Slurm in the cgroup enforcement mode
 * (CST_SLURM_MEMORY=cgroup: task/cgroup, cgroup/v1, ConstrainRAMSpace): run-one finds the job's
 * memory cgroup (/sys/fs/cgroup/memory/slurm/uid_<uid>/job_<id>/...) and reads
 * memory.max_usage_in_bytes before and after the subject, and logs every figure. By design
 * (docs/peak-memory.md) the record keeps the largest: the cgroup covers every process of the job
 * but not file pages (csttool's own executable) cached before the job, which csttool's rusage
 * counts; so either may be the larger, and the test asserts the larger one was recorded.
 * Runs with the other slurm-modes tests (`npm run test:slurm-modes`); restores the default mode.
 */
const haveSlurm = requireSlurmOrSkip();
afterAll(() => {
  if (haveSlurm) startSlurmMode("none");
}, 300_000);

describe.skipIf(!haveSlurm)("peak memory from the job's cgroup on the test Slurm (cgroup mode)", () => {
  it("a subject that holds 700 MB for 0.2 s: run-one reads the job's v1 memory cgroup (650-800 MB) and records the larger of it and rusage, 650-800 MB, in _done.json, collect's CSV and status", async () => {
    startSlurmMode("cgroup");
    expect(currentSlurmMode()).toBe("cgroup");
    const dir = tempDir("cst-mode-cgroup-peak-");
    const bids = await makeBidsDataset(path.join(dir, "bids"), [{ id: "sub-01" }]);
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-01": "alloc:700:0.2" }));
    const out = path.join(dir, "out");
    const env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const r = await startCli(
      ["submit", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--json", "--skip-disk-check", "--no-profile", "--scheduler", "slurm", "--time", "5m", "--mem", "2G"],
      { env },
    ).done;
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as { job_ids: string[]; collect_job_id: string };
    await waitForSlurmJobsGone([...json.job_ids, json.collect_job_id], 200_000);

    const done = readJson<{ max_rss_kb: number; max_rss_source: string; job_id: string }>(path.join(out, "sub-01", "_done.json"));
    const st = await startCli(["status", "--out", out, "--json"], { env }).done;
    expect(st.code, st.stderr).toBe(0);
    const task = JSON.parse(st.stdout).tasks[0];
    expect(task).toMatchObject({ state: "done", max_rss_kb: done.max_rss_kb, max_rss_source: done.max_rss_source });
    // run-one found the job's memory cgroup (Slurm's cgroup/v1 layout) and logged every figure
    const log = readFileSync(path.join(out, task.log_path), "utf8");
    const m = /peak memory \(KiB\): cgroup (\d+) \((\S+), (\d+|\?) before csttool\), rusage (\d+|-), sampled (\d+|-); recorded (\w+)/.exec(log);
    expect(m, log).not.toBeNull();
    const [cgroupKb, file, rusageKb] = [Number(m![1]), m![2]!, Number(m![4])];
    expect(file).toMatch(new RegExp(`^/sys/fs/cgroup/memory/slurm[^/]*/uid_\\d+/job_\\d+/.*memory\\.max_usage_in_bytes$`));
    expect(cgroupKb / 1024).toBeGreaterThanOrEqual(650);
    expect(cgroupKb / 1024).toBeLessThanOrEqual(800);
    // by design the record keeps the larger of the job's cgroup and csttool's own rusage peak
    expect(done.max_rss_kb).toBe(Math.max(cgroupKb, rusageKb));
    expect(done.max_rss_source).toBe(cgroupKb >= rusageKb ? "cgroup" : "rusage");
    expect(m![6]).toBe(done.max_rss_source);
    expect(done.max_rss_kb / 1024).toBeGreaterThanOrEqual(650);
    expect(done.max_rss_kb / 1024).toBeLessThanOrEqual(800);
    const csv = parseCsv(readFileSync(path.join(out, "batch_metrics.csv"), "utf8"));
    const row = csv.find((c) => c[0] === "sub-01")!;
    expect([Number(row[csv[0]!.indexOf("max_rss_kb")]), row[csv[0]!.indexOf("max_rss_source")]]).toEqual([done.max_rss_kb, done.max_rss_source]);
  }, 420_000);
});
