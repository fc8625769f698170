import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";
import { readJson, STANDIN, standinCalls, startCli, tempDir, type CliResult } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";
import { readCurrentPlan } from "../helpers/plan-file.js";

/**
 * `status` and `resubmit` through the BUILT CLI (`npm run build` first) on the local Slurm, with
 * the csttool stand-in. One study of seven subjects covers: success, pipeline failure, run-one's
 * own timeout, the stand-in's `oom` (csttool SIGKILLs itself: no cgroups here, so the real Slurm
 * OUT_OF_MEMORY state is covered by parser fixtures in test/unit/status), scancel of a running
 * element, and two run-ones SIGKILLed mid-task (no record; their csttool orphans keep the lock).
 * Scheduler calls are counted with logging `sacct`/`squeue` wrappers first on PATH (status only).
 * Takes ~40-60 s.
 */
const haveSlurm = requireSlurmOrSkip();

function realTool(name: string): string {
  return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
}

function accountingWorks(): boolean {
  try {
    execFileSync("sacct", ["-n", "-X", "-j", "1", "-o", "JobID"], { stdio: "pipe", timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

/** A bin folder with `sacct` and `squeue` that log each call to `<dir>/calls.log` (real ones, or a sacct without accounting). */
function wrapperBin(dir: string, accounting: boolean): { env: Record<string, string>; calls: () => string[] } {
  mkdirSync(dir, { recursive: true });
  const log = path.join(dir, "calls.log");
  const sacct = accounting
    ? `#!/bin/sh\necho "sacct $*" >> '${log}'\nexec '${realTool("sacct")}' "$@"\n`
    : `#!/bin/sh\necho "sacct $*" >> '${log}'\necho "sacct: error: Slurm accounting storage is disabled" >&2\nexit 1\n`;
  writeFileSync(path.join(dir, "sacct"), sacct);
  writeFileSync(path.join(dir, "squeue"), `#!/bin/sh\necho "squeue $*" >> '${log}'\nexec '${realTool("squeue")}' "$@"\n`);
  chmodSync(path.join(dir, "sacct"), 0o755);
  chmodSync(path.join(dir, "squeue"), 0o755);
  return {
    env: { PATH: `${dir}:${process.env.PATH ?? ""}` },
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []),
  };
}

async function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return startCli(args, { env }).done;
}

interface StatusJson {
  totals: Record<string, number>;
  tasks: Array<{ key: string; state: string; category: string | null; reason: string | null; job_id: string | null }>;
  write_backs: Array<{ key: string; kind: string; outcome: { kind: string } }>;
}
async function status(out: string, env: Record<string, string>, extra: string[] = []): Promise<StatusJson> {
  const r = await cli(["status", "--out", out, "--json", ...extra], env);
  if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusJson;
}
const byKey = (s: StatusJson) => Object.fromEntries(s.tasks.map((t) => [t.key, t]));

function lockOwner(out: string, sub: string): { pid: number; child_pgid: number | null } | null {
  try {
    return JSON.parse(readFileSync(path.join(out, sub, "_lock"), "utf8"));
  } catch {
    return null;
  }
}

/** Wait until `sub`'s csttool runs under run-one (lock owner with a process group, csttool's output in the log). */
async function waitRunning(out: string, sub: string, maxMs = 90_000): Promise<{ pid: number; child_pgid: number }> {
  const end = Date.now() + maxMs;
  for (;;) {
    const o = lockOwner(out, sub);
    // csttool has written its first lines (a csttool killed before that dies writing to the dead run-one's pipe)
    const log = path.join(out, "logs", `${sub}.log`);
    const loading = existsSync(log) && readFileSync(log, "utf8").includes("[1/4] loading");
    if (o && o.child_pgid && loading && existsSync(path.join(out, sub, "_work", "attempt.json"))) return o as { pid: number; child_pgid: number };
    if (Date.now() > end) throw new Error(`${sub} did not start within ${maxMs} ms`);
    await delay(200);
  }
}

/**
 * The test cluster is shared (other suites may queue long arrays): move our jobs to the top of
 * the queue (`scontrol top`, root/operator only; best effort) so the timing-sensitive steps run.
 */
async function prioritise(jobIds: string[]): Promise<void> {
  await runSchedulerCommand(["scontrol", "top", jobIds.join(",")]);
}

const orphanGroups: number[] = [];
afterAll(() => {
  for (const g of orphanGroups) {
    try {
      process.kill(-g, "SIGKILL");
    } catch {
      // already gone (the rerun reaps them)
    }
  }
});

describe.skipIf(!haveSlurm)("status and resubmit on the local Slurm", () => {
  it("reports every way a task can end with one scheduler call, records what only the scheduler knows, and resubmit reruns exactly the failed set", async () => {
    const dir = tempDir("cst-slurm-status-");
    const ids = ["sub-01", "sub-02", "sub-03", "sub-04", "sub-05", "sub-06", "sub-07"];
    const bids = await makeBidsDataset(path.join(dir, "bids"), ids.map((id) => ({ id })));
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-02": "fail", "sub-03": "hang", "sub-04": "oom", "sub-05": "hang", "sub-06": "hang", "sub-07": "hang" }));
    const argvLog = path.join(dir, "argv.jsonl");
    const out = path.join(dir, "out");
    const jobEnv = { CSTTOOL_STANDIN_CONFIG: config, CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const planFlags = ["--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--timeout-minutes", "0.25", "--grace-seconds", "1"];

    // sub-07: a run-one SIGKILLed outside any job leaves its csttool orphan holding the lock.
    const planned = await cli(["plan", ...planFlags, "--json"], jobEnv);
    expect(planned.code, planned.stderr).toBe(0);
    const planId = readCurrentPlan(out).plan_id;
    const stray = startCli(["run-one", "--plan", path.join(out, ".cst-batch", "plans", `${planId}.jsonl`), "--index", "6"], { env: jobEnv });
    const o7 = await waitRunning(out, "sub-07");
    orphanGroups.push(o7.child_pgid);
    stray.child.kill("SIGKILL");
    await stray.done;

    const sub = await cli(["submit", "--scheduler", "slurm", ...planFlags, "--json", "--mem", "200M", "--time", "5m"], jobEnv);
    expect(sub.code, sub.stderr).toBe(0);
    const submitted = JSON.parse(sub.stdout) as { job_ids: string[]; collect_job_id: string; submission: { chunks: number[][] } };
    const arrayId = submitted.job_ids[0]!;
    // status must do the write-back here, not the collect job: cancel that one.
    await runSchedulerCommand(["scancel", submitted.collect_job_id]);
    await prioritise(submitted.job_ids);
    expect(submitted.submission.chunks).toEqual([[0], [1], [2], [3], [4], [5]]); // sub-07 "running": not submitted

    // sub-05: scancel its element while csttool runs; sub-06: SIGKILL run-one itself.
    const [, o6] = await Promise.all([waitRunning(out, "sub-05"), waitRunning(out, "sub-06")]);
    orphanGroups.push(o6.child_pgid);
    expect(await runSchedulerCommand(["scancel", `${arrayId}_4`])).toMatchObject({ kind: "ok" });
    process.kill(o6.pid, "SIGKILL");
    await waitForSlurmJobsGone(submitted.job_ids, 240_000);

    // Without accounting (a sacct that says so): one failed sacct, one squeue -t all for the submission.
    const noAcct = wrapperBin(path.join(dir, "bin-noacct"), false);
    const s1 = await status(out, noAcct.env, ["--no-write-back"]);
    expect(noAcct.calls().map((c) => c.split(" ")[0])).toEqual(["sacct", "squeue"]);
    const t1 = byKey(s1);
    expect(t1["sub-01"]).toMatchObject({ state: "done" });
    expect(t1["sub-02"]).toMatchObject({ state: "failed", category: "PIPELINE_FAILED" });
    expect(t1["sub-03"]).toMatchObject({ state: "failed", category: "TIMEOUT" });
    expect(t1["sub-04"]).toMatchObject({ state: "failed", category: "OUT_OF_MEMORY" });
    expect(t1["sub-05"]).toMatchObject({ state: "failed", category: "CANCELLED" });
    expect(t1["sub-06"]).toMatchObject({ state: "stale", job_id: `${arrayId}_5` }); // SIGKILLed: no record
    expect(t1["sub-07"]).toMatchObject({ state: "stale", reason: expect.stringContaining("is dead") });

    // If sub-06's csttool outlived its job it holds the lock: stop it (as a node cleanup would).
    try {
      process.kill(-o6.child_pgid, "SIGKILL");
    } catch {
      // Slurm already killed it with the job
    }
    for (let i = 0; i < 100 && byKey(await status(out, noAcct.env, ["--no-write-back", "--no-scheduler"]))["sub-06"]!.reason!.includes("is dead"); i++) await delay(100);

    const acctOk = accountingWorks();
    if (!acctOk) console.warn("[status test] sacct does not answer (accounting off or its database down): the squeue fallback records the verdict");
    const bin = acctOk ? wrapperBin(path.join(dir, "bin-acct"), true) : wrapperBin(path.join(dir, "bin-noacct2"), false);
    const s2 = await status(out, bin.env);
    expect(bin.calls().map((c) => c.split(" ")[0])).toEqual(acctOk ? ["sacct"] : ["sacct", "squeue"]);
    const t2 = byKey(s2);
    // the scheduler's verdict for the attempt that left no record, written back once
    expect(t2["sub-06"]).toMatchObject({ state: "failed", category: "KILLED", job_id: `${arrayId}_5` });
    const verdicts = s2.write_backs.filter((w: { kind: string }) => w.kind !== "peak");
    expect(verdicts).toEqual([{ key: "sub-06", kind: "archive-work", outcome: expect.objectContaining({ kind: "written" }) }]);
    // sacct's MaxRSS (the whole element: run-one included) may exceed run-one's own figure: then it is recorded, marked sacct
    for (const w of s2.write_backs.filter((x: { kind: string }) => x.kind === "peak")) expect(t2[w.key]).toMatchObject({ max_rss_source: "sacct" });
    const filed = readdirSync(path.join(out, "sub-06", "_failed_attempts"));
    expect(filed).toEqual([expect.stringMatching(/_KILLED$/)]);
    expect(readJson(path.join(out, "sub-06", "_failed_attempts", filed[0]!, "attempt.json"))).toMatchObject({ recorded_by: "scheduler", job_id: `${arrayId}_5` });
    expect(t2["sub-07"]).toMatchObject({ state: "stale" });
    expect((await status(out, bin.env)).write_backs).toEqual([]);

    // collect (the CLI, as the collect job runs it) carries the categories
    const c = await cli(["collect", "--out", out, "--json"], noAcct.env);
    expect(c.code, c.stderr).toBe(0);
    const summary = JSON.parse(c.stdout) as { by_category: Record<string, number> };
    expect(summary.by_category).toEqual({ PIPELINE_FAILED: 1, TIMEOUT: 1, CANCELLED: 1, KILLED: 1, OUT_OF_MEMORY: 1 });

    // resubmit the failed set, sub-07's stale lock included, with more memory for the OOM one; everything succeeds now.
    writeFileSync(config, "{}");
    const rs = await cli(["resubmit", "--out", out, "--failed", "--mem-factor", "1.5", "--no-profile", "--json"], jobEnv);
    expect(rs.code, rs.stderr).toBe(0);
    const rj = JSON.parse(rs.stdout) as { rerun: string[]; notes: string[]; groups: Array<{ label: string; mem_mib: number; job_ids: string[]; collect_job_id: string; chunks: number[][] }> };
    expect(rj.rerun).toEqual(["sub-02", "sub-03", "sub-04", "sub-05", "sub-06", "sub-07"]);
    expect(rj.notes.join("\n")).toContain("sub-07: stopped the orphaned processes");
    const oomGroup = rj.groups.find((g) => g.label.startsWith("OUT_OF_MEMORY"))!;
    const baseGroup = rj.groups.find((g) => g.label === "base")!;
    expect(oomGroup).toMatchObject({ mem_mib: 300, chunks: [[3]] });
    expect(baseGroup).toMatchObject({ mem_mib: 200, chunks: [[1], [2], [4], [5], [6]] });
    const jobs = rj.groups.flatMap((g) => [...g.job_ids, g.collect_job_id]);
    await prioritise(jobs);
    await waitForSlurmJobsGone(jobs, 240_000);

    const final = await status(out, noAcct.env);
    expect(final.totals).toMatchObject({ done: 7, total: 7 });
    // sub-01 ran once; every other subject exactly twice
    const runs: Record<string, number> = {};
    for (const call of standinCalls(argvLog)) {
      const id = call.argv[call.argv.indexOf("--subject-id") + 1];
      runs[`sub-${id}`] = (runs[`sub-${id}`] ?? 0) + 1;
    }
    expect(runs).toEqual({ "sub-01": 1, "sub-02": 2, "sub-03": 2, "sub-04": 2, "sub-05": 2, "sub-06": 2, "sub-07": 2 });
    // every array's indices are contiguous 0..n-1
    const subDir = path.join(out, ".cst-batch", "submissions");
    const specs = readdirSync(subDir)
      .filter((f) => !f.endsWith(".json"))
      .map((d) => /#SBATCH --array=(\S+)/.exec(readFileSync(path.join(subDir, d, "array-0.sh"), "utf8"))?.[1]);
    expect(specs.sort()).toEqual(["0-0", "0-4", "0-5"]);
  }, 600_000);
});
