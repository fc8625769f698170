import { existsSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";
import { readJson, STANDIN, standinCalls, startCli, tempDir } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";

/**
 * `--array-throttle N` bounds the whole study on the real Slurm: a cohort split into several
 * array jobs (--max-array-size) and a resubmission made while the first submission still runs,
 * with a sampler polling `squeue` for the study's running elements the whole time.
 */
const haveSlurm = requireSlurmOrSkip();

interface SubmitJson {
  job_ids: string[];
  collect_job_id: string;
  submission: { shards: { job_id: string; throttle: number | null; depends_on: string[]; submit_argv: string[] }[] };
  scripts: { name: string; submit_argv: string[] }[];
}

/** Polls squeue for RUNNING elements of the jobs named `jobName` until stopped; keeps the largest count. */
function startSampler(jobName: string): { stop: () => Promise<{ max: number; samples: number }> } {
  let stopped = false;
  let max = 0;
  let samples = 0;
  const loop = (async () => {
    while (!stopped) {
      const o = await runSchedulerCommand(["squeue", "-h", "-r", "-t", "RUNNING", "-n", jobName, "-o", "%i"]);
      if (o.kind === "ok") {
        samples++;
        max = Math.max(max, o.stdout.split("\n").filter((l) => l.trim() !== "").length);
      }
      await delay(200);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { max, samples };
    },
  };
}

describe.skipIf(!haveSlurm)("a study-wide --array-throttle on the local Slurm", { timeout: 420_000 }, () => {
  it("10 slow subjects over 3 array jobs plus a resubmission in flight never run more than 2 at once", async () => {
    const dir = tempDir("cst-slurm-throttle-");
    const ids = Array.from({ length: 10 }, (_, i) => ({ id: `sub-${String(i + 1).padStart(2, "0")}` }));
    const bids = await makeBidsDataset(path.join(dir, "bids"), ids);
    const config = path.join(dir, "behaviours.json");
    const slow = Object.fromEntries(ids.map(({ id }) => [id, "sleep:6"]));
    writeFileSync(config, JSON.stringify({ ...slow, "sub-01": "fail" }));
    const argvLog = path.join(dir, "argv.jsonl");
    const out = path.join(dir, "out");
    const jobName = `cstthr${process.pid}`;
    const env = { CSTTOOL_STANDIN_CONFIG: config, CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };

    const sampler = startSampler(jobName);
    const jobs: string[] = [];
    let failed: unknown;
    try {
      const r = await startCli(
        ["submit", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--json", "--skip-disk-check", "--mem", "200M", "--scheduler", "slurm",
          "--time", "5m", "--array-throttle", "2", "--max-array-size", "4", "--job-name", jobName],
        { env },
      ).done;
      expect(r.code, r.stderr).toBe(0);
      const first = JSON.parse(r.stdout) as SubmitJson;
      jobs.push(...first.job_ids, first.collect_job_id);
      expect(first.job_ids).toHaveLength(3);
      // the study's 2 split over the shards; the third shard waits for a lane's first one, by its real id
      expect(first.submission.shards.map((s) => s.throttle)).toEqual([1, 1, 1]);
      expect(first.job_ids).toContain(first.submission.shards[2]!.depends_on[0]);
      expect(first.submission.shards[2]!.submit_argv).toContain(`--dependency=afterany:${first.submission.shards[2]!.depends_on[0]}`);
      // everything printed after submit names real jobs
      expect(JSON.stringify(first.scripts)).not.toContain("<job id");
      expect(first.scripts.find((s) => s.name === "collect")!.submit_argv).toContain(`--dependency=afterany:${first.job_ids.join(":")}`);

      // sub-01 fails first; once status says so (its element has ended), resubmit it (now behaving) while the first submission still runs
      const failedDir = path.join(out, "sub-01", "_failed_attempts");
      let sub01 = "";
      for (let i = 0; i < 240 && sub01 !== "failed"; i++) {
        await delay(250);
        if (!(existsSync(failedDir) && readdirSync(failedDir).length > 0)) continue;
        const st = await startCli(["status", "--out", out, "--json"], { env }).done;
        const rows = (JSON.parse(st.stdout) as { tasks: { key: string; state: string }[] }).tasks;
        sub01 = rows.find((t) => t.key === "sub-01")?.state ?? "";
      }
      expect(sub01).toBe("failed");
      writeFileSync(config, JSON.stringify(slow));
      const re = await startCli(["resubmit", "--out", out, "--failed", "--json", "--no-profile"], { env }).done;
      expect(re.code, re.stderr).toBe(0);
      const second = JSON.parse(re.stdout) as { groups: { job_ids: string[]; collect_job_id: string; submission_id: string }[] };
      const group = second.groups[0]!;
      jobs.push(...group.job_ids, group.collect_job_id);
      const record = readJson<{ shards: { depends_on: string[]; throttle: number | null }[] }>(path.join(out, ".cst-batch", "submissions", `${group.submission_id}.json`));
      // the resubmission waits for the first submission's arrays still in the queue
      expect(record.shards[0]!.throttle).toBe(2);
      expect(record.shards[0]!.depends_on.length).toBeGreaterThan(0);
      for (const id of record.shards[0]!.depends_on) expect(first.job_ids).toContain(id);

      await waitForSlurmJobsGone(jobs, 360_000);
    } catch (e) {
      // the first failure is the one to report: the sampler's checks below would hide it
      failed = e;
    } finally {
      const { max, samples } = await sampler.stop();
      if (jobs.length > 0) await runSchedulerCommand(["scancel", ...jobs]);
      if (failed !== undefined) throw failed;
      expect(samples).toBeGreaterThan(20);
      expect(max).toBeLessThanOrEqual(2);
      // not so strict that nothing runs in parallel
      expect(max).toBe(2);
    }
    for (const { id } of ids) expect(existsSync(path.join(out, id, "_done.json")), id).toBe(true);
    const runs = standinCalls(argvLog).length;
    expect(runs).toBe(11); // 10 subjects, sub-01 twice
  });
});
