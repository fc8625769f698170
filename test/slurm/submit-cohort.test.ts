import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";
import { readJson, STANDIN, standinCalls, startCli, tempDir, type CliResult } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { qsubAvailable, requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";

/**
 * `cst-batch submit` through the BUILT CLI (`npm run build` first) on the local Slurm, with the
 * csttool stand-in. The scenarios run concurrently (describe.concurrent): the slow one is the
 * walltime kill (~60-90 s on Slurm's coarse limit checks); the whole file takes about that long.
 */
const haveSlurm = requireSlurmOrSkip();

interface Study {
  dir: string;
  bids: string;
  out: string;
  argvLog: string;
  config: string;
  env: Record<string, string>;
}

async function makeStudy(n: number, behaviours: Record<string, string>): Promise<Study> {
  const dir = tempDir("cst-slurm-submit-");
  const ids = Array.from({ length: n }, (_, i) => ({ id: `sub-${String(i + 1).padStart(2, "0")}` }));
  const bids = await makeBidsDataset(path.join(dir, "bids"), ids);
  const config = path.join(dir, "behaviours.json");
  writeFileSync(config, JSON.stringify(behaviours));
  const argvLog = path.join(dir, "argv.jsonl");
  return {
    dir,
    bids,
    out: path.join(dir, "out"),
    argvLog,
    config,
    // Exported to the jobs by sbatch (--export=ALL is Slurm's default); no stray user profile.
    env: { CSTTOOL_STANDIN_CONFIG: config, CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") },
  };
}

interface SubmitJson {
  kind: string;
  submission_id: string;
  record: string;
  job_ids: string[];
  collect_job_id: string;
  warnings: string[];
  submission: { chunks: number[][]; shards: { job_id: string; count: number; first_chunk: number }[] };
}

async function submit(s: Study, args: string[]): Promise<{ r: CliResult; json: SubmitJson }> {
  const r = await startCli(["submit", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--json", "--skip-disk-check", "--mem", "200M", ...args], { env: s.env }).done;
  if (r.code !== 0) throw new Error(`submit exited ${r.code}: ${r.stderr}`);
  return { r, json: JSON.parse(r.stdout) as SubmitJson };
}

function allJobs(j: SubmitJson): string[] {
  return [...j.job_ids, j.collect_job_id];
}

/** Folder names in `<out>/<sub>/_failed_attempts`. */
function failures(s: Study, sub: string): string[] {
  const dir = path.join(s.out, sub, "_failed_attempts");
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}
function attempt(s: Study, sub: string, i = 0): { category: string; message: string; job_id: string | null } {
  return readJson(path.join(s.out, sub, "_failed_attempts", failures(s, sub)[i]!, "attempt.json"));
}
function isDone(s: Study, sub: string): boolean {
  return existsSync(path.join(s.out, sub, "_done.json"));
}
/** How many times the stand-in ran each subject (`--subject-id 01` -> sub-01). */
function runsPerSubject(s: Study): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of standinCalls(s.argvLog)) {
    const id = c.argv[c.argv.indexOf("--subject-id") + 1];
    counts[`sub-${id}`] = (counts[`sub-${id}`] ?? 0) + 1;
  }
  return counts;
}
function collectLogs(s: Study): string[] {
  return readdirSync(path.join(s.out, "logs", "scheduler")).filter((f) => /^collect_\d+\.out$/.test(f));
}

// Slurm checks time limits coarsely (a 1-minute walltime ends after 60-90 s) and the test cluster
// is shared with other files (the real csttool among them): generous per-test limits.
describe.skipIf(!haveSlurm).concurrent("cst-batch submit on the local Slurm", { timeout: 300_000 }, () => {
  it("a mixed cohort ends with the right record per subject, collect runs once after the last task, and a resubmit runs only the failed", async () => {
    const s = await makeStudy(6, { "sub-02": "fail", "sub-03": "hang", "sub-04": "sleep:60" });
    // --timeout-minutes 0.15 (9 s) fits in --time 5m: the hang is stopped by run-one's own timeout.
    const { json } = await submit(s, ["--scheduler", "slurm", "--time", "5m", "--timeout-minutes", "0.15", "--grace-seconds", "1", "--array-throttle", "3"]);
    expect(json.kind).toBe("submitted");
    expect(json.submission.chunks).toEqual([[0], [1], [2], [3], [4], [5]]);
    const arrayId = json.job_ids[0]!;
    const script = readFileSync(path.join(s.out, ".cst-batch", "submissions", json.submission_id, "array-0.sh"), "utf8");
    expect(script).toContain("#SBATCH --array=0-5%3");
    expect(script).toMatch(/#SBATCH --signal=B:USR1@30/);

    // scancel sub-04's task once csttool runs in it
    const started = path.join(s.out, "sub-04", "_work", "attempt.json");
    for (let i = 0; i < 120 && !existsSync(started); i++) await delay(250);
    expect(existsSync(started)).toBe(true);
    // the stand-in's first act is to log its argv: cancel only once csttool really runs
    for (let i = 0; i < 120 && runsPerSubject(s)["sub-04"] !== 1; i++) await delay(250);
    expect(runsPerSubject(s)["sub-04"]).toBe(1);
    expect(await runSchedulerCommand(["scancel", `${arrayId}_3`])).toMatchObject({ kind: "ok" });
    await waitForSlurmJobsGone(allJobs(json), 240_000);

    for (const sub of ["sub-01", "sub-05", "sub-06"]) expect(isDone(s, sub)).toBe(true);
    expect(failures(s, "sub-02")).toEqual([expect.stringMatching(/_PIPELINE_FAILED$/)]);
    expect(failures(s, "sub-03")).toEqual([expect.stringMatching(/_TIMEOUT$/)]);
    expect(attempt(s, "sub-03").message).toMatch(/longer than the time limit \(0\.15 min\)/);
    expect(failures(s, "sub-04")).toEqual([expect.stringMatching(/_CANCELLED$/)]);
    expect(attempt(s, "sub-04").job_id).toBeTruthy();

    // collect ran once, after every task had finished, and its summary matches the files
    expect(collectLogs(s)).toEqual([`collect_${json.collect_job_id}.out`]);
    const summary = readJson(path.join(s.out, "batch_summary.json"));
    expect(summary.counts).toMatchObject({ total: 6, success: 3, failed: 3, pending: 0, running: 0 });
    expect(summary.by_category).toEqual({ PIPELINE_FAILED: 1, TIMEOUT: 1, CANCELLED: 1 });
    const finished = ["sub-01", "sub-05", "sub-06"].map((sub) => readJson(path.join(s.out, sub, "_done.json")).finished_at as string);
    for (const sub of ["sub-02", "sub-03", "sub-04"]) finished.push(readJson<{ finished_at: string }>(path.join(s.out, sub, "_failed_attempts", failures(s, sub)[0]!, "attempt.json")).finished_at);
    expect(Date.parse(summary.generated_at)).toBeGreaterThanOrEqual(Math.max(...finished.map(Date.parse)));

    // resubmit with the pipeline fixed: only the three failed subjects run again
    writeFileSync(s.config, "{}");
    const again = await submit(s, ["--scheduler", "slurm", "--time", "5m", "--grace-seconds", "1"]);
    expect(again.json.submission.chunks).toEqual([[1], [2], [3]]);
    await waitForSlurmJobsGone(allJobs(again.json), 240_000);
    expect(runsPerSubject(s)).toEqual({ "sub-01": 1, "sub-02": 2, "sub-03": 2, "sub-04": 2, "sub-05": 1, "sub-06": 1 });
    expect(readJson(path.join(s.out, "batch_summary.json")).counts).toMatchObject({ success: 6, failed: 0 });
    expect(collectLogs(s)).toHaveLength(2);
    // the first submission's record is untouched (immutable chunk list)
    expect(readJson(json.record).chunks).toEqual([[0], [1], [2], [3], [4], [5]]);
  });

  it("a subject still running when the walltime comes is recorded as TIMEOUT through Slurm's USR1 warning", async () => {
    const s = await makeStudy(1, { "sub-01": "hang" });
    // An explicit timeout longer than the walltime allows: a warning, and the walltime stops it.
    const { json } = await submit(s, ["--scheduler", "slurm", "--time", "1m", "--timeout-minutes", "10", "--grace-seconds", "1"]);
    expect(json.warnings.join("\n")).toMatch(/does not fit/);
    await waitForSlurmJobsGone(allJobs(json), 240_000);
    expect(failures(s, "sub-01")).toEqual([expect.stringMatching(/_TIMEOUT$/)]);
    expect(attempt(s, "sub-01").message).toMatch(/SIGUSR1.*time limit is near/);
    expect(readJson(path.join(s.out, "batch_summary.json")).by_category).toEqual({ TIMEOUT: 1 });
  });

  it("sharding (--max-array-size) and chunking (--chunk-size): collect waits for every shard, each subject runs once in its chunk's job", async () => {
    const s = await makeStudy(5, {});
    const { json } = await submit(s, ["--scheduler", "slurm", "--time", "10m", "--chunk-size", "2", "--max-array-size", "2"]);
    expect(json.submission.chunks).toEqual([[0, 1], [2, 3], [4]]);
    expect(json.submission.shards.map((x) => [x.first_chunk, x.count])).toEqual([
      [0, 2],
      [2, 1],
    ]);
    expect(json.job_ids).toHaveLength(2);
    const dep = await runSchedulerCommand(["squeue", "-h", "-j", json.collect_job_id, "-o", "%E"]);
    if (dep.kind === "ok" && dep.stdout.trim() !== "") {
      // still waiting: the dependency names both arrays
      for (const id of json.job_ids) expect(dep.stdout).toContain(id);
    }
    await waitForSlurmJobsGone(allJobs(json), 240_000);
    expect(runsPerSubject(s)).toEqual({ "sub-01": 1, "sub-02": 1, "sub-03": 1, "sub-04": 1, "sub-05": 1 });
    const jobOf = (sub: string): string => readJson(path.join(s.out, sub, "_done.json")).job_id;
    expect(jobOf("sub-01")).toBe(jobOf("sub-02"));
    expect(jobOf("sub-03")).toBe(jobOf("sub-04"));
    expect(new Set(["sub-01", "sub-03", "sub-05"].map(jobOf)).size).toBe(3);
    expect(readJson(path.join(s.out, "batch_summary.json")).counts).toMatchObject({ total: 5, success: 5 });
    expect(collectLogs(s)).toHaveLength(1);
  });

  it("the site's MaxArraySize is read from `scontrol show config` and arrays are split to it", async () => {
    const s = await makeStudy(7, {});
    // The cluster's own limit is 10001; a wrapper first on PATH reports MaxArraySize = 3 (as a
    // site with a low limit would) and passes every other scontrol call, and sbatch, to the real Slurm.
    const bin = path.join(s.dir, "bin");
    const real = (await runSchedulerCommand(["sh", "-c", "command -v scontrol"]));
    const realScontrol = real.kind === "ok" ? real.stdout.trim() : "/usr/bin/scontrol";
    mkdirSync(bin);
    writeFileSync(
      path.join(bin, "scontrol"),
      `#!/bin/sh\nif [ "$1 $2" = "show config" ]; then '${realScontrol}' "$@" | sed 's/^MaxArraySize .*/MaxArraySize            = 3/'; exit 0; fi\nexec '${realScontrol}' "$@"\n`,
      { mode: 0o755 },
    );
    const env = { ...s.env, PATH: `${bin}:${process.env.PATH}` };
    const r = await startCli(["submit", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--json", "--skip-disk-check", "--mem", "200M", "--scheduler", "slurm", "--time", "10m"], { env }).done;
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as SubmitJson;
    expect(json.submission.shards.map((x) => [x.first_chunk, x.count])).toEqual([
      [0, 3],
      [3, 3],
      [6, 1],
    ]);
    expect(json.job_ids).toHaveLength(3);
    await waitForSlurmJobsGone(allJobs(json), 240_000);
    expect(Object.values(runsPerSubject(s))).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(readJson(path.join(s.out, "batch_summary.json")).counts).toMatchObject({ total: 7, success: 7 });
    expect(collectLogs(s)).toHaveLength(1);
  });

  it("two overlapping submissions on one --out never run a subject twice", async () => {
    const s = await makeStudy(4, { "sub-01": "sleep:3", "sub-02": "sleep:3", "sub-03": "sleep:3", "sub-04": "sleep:3" });
    const first = await submit(s, ["--scheduler", "slurm", "--time", "5m", "--array-throttle", "2"]);
    const second = await submit(s, ["--scheduler", "slurm", "--time", "5m", "--array-throttle", "2"]);
    expect(second.json.submission_id).not.toBe(first.json.submission_id);
    await waitForSlurmJobsGone([...allJobs(first.json), ...allJobs(second.json)], 240_000);
    expect(runsPerSubject(s)).toEqual({ "sub-01": 1, "sub-02": 1, "sub-03": 1, "sub-04": 1 });
    for (const sub of ["sub-01", "sub-02", "sub-03", "sub-04"]) {
      expect(isDone(s, sub)).toBe(true);
      expect(failures(s, sub)).toEqual([]);
    }
  });

  it.skipIf(!qsubAvailable())("--scheduler pbs: the PBS Pro scripts run through Slurm's qsub wrapper (PBS_ARRAY_INDEX), collect after the array", async () => {
    const s = await makeStudy(3, { "sub-02": "fail" });
    const { json } = await submit(s, ["--scheduler", "pbs", "--time", "10m", "--job-name", "cstpbs"]);
    expect(json.job_ids[0]).toMatch(/^\d+$/); // the wrapper prints a bare id
    const script = readFileSync(path.join(s.out, ".cst-batch", "submissions", json.submission_id, "array-0.sh"), "utf8");
    expect(script).toContain("#PBS -J 0-2");
    expect(script).toContain('index="${PBS_ARRAY_INDEX:-}"');
    await waitForSlurmJobsGone(allJobs(json), 240_000);
    expect(isDone(s, "sub-01")).toBe(true);
    expect(isDone(s, "sub-03")).toBe(true);
    expect(failures(s, "sub-02")).toEqual([expect.stringMatching(/_PIPELINE_FAILED$/)]);
    expect(runsPerSubject(s)).toEqual({ "sub-01": 1, "sub-02": 1, "sub-03": 1 });
    expect(readJson(path.join(s.out, "batch_summary.json")).counts).toMatchObject({ total: 3, success: 2, failed: 1 });
  });
});
