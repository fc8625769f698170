import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";
import { readJson, REPO, STANDIN, standinCalls, startCli, tempDir, type CliResult } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { requireSgeOrSkip, sgeWrapperBin, waitForSgeJobsGone } from "../helpers/sge-env.js";

/**
 * `submit`, `status` and `resubmit --scheduler sge` through the BUILT CLI (`npm run build` first)
 * on the real single-node Son of Grid Engine 8.1.9 of scripts/sge-local-start.sh, with the csttool
 * stand-in. The Grid Engine clients come first on PATH for the CLI and its jobs only (wrappers
 * that log each call, see test/helpers/sge-env.ts); Slurm's qsub wrapper stays in /usr/bin.
 * Takes ~1-2 min (the walltime warning comes at s_rt = 30 s).
 */
const haveSge = requireSgeOrSkip();

async function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return startCli(args, { env }).done;
}

function failures(out: string, sub: string): string[] {
  const dir = path.join(out, sub, "_failed_attempts");
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}
function attempt(out: string, sub: string, i = 0): { category: string; message: string; job_id: string | null } {
  return readJson(path.join(out, sub, "_failed_attempts", failures(out, sub)[i]!, "attempt.json"));
}
function runsPerSubject(argvLog: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of standinCalls(argvLog)) {
    const id = c.argv[c.argv.indexOf("--subject-id") + 1];
    counts[`sub-${id}`] = (counts[`sub-${id}`] ?? 0) + 1;
  }
  return counts;
}

interface StatusJson {
  totals: Record<string, number>;
  tasks: Array<{ key: string; state: string; category: string | null; job_id: string | null }>;
}

describe.skipIf(!haveSge).concurrent("cst-batch on a real Grid Engine (--scheduler sge)", { timeout: 420_000 }, () => {
  it("a throttled mixed cohort (success, pipeline failure, walltime, cancel by qdel) ends with every subject's cause, collect runs once after the array, status asks one qstat and one qacct, and resubmit reruns exactly the failed", async () => {
    const dir = tempDir("cst-sge-");
    const ids = ["sub-01", "sub-02", "sub-03", "sub-04", "sub-05"];
    const bids = await makeBidsDataset(path.join(dir, "bids"), ids.map((id) => ({ id })));
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-02": "fail", "sub-03": "hang", "sub-04": "sleep:120" }));
    const argvLog = path.join(dir, "argv.jsonl");
    const out = path.join(dir, "out");
    const bin = sgeWrapperBin(path.join(dir, "bin"));
    // exported to the jobs by `#$ -V`
    const env = { ...bin.env, CSTTOOL_STANDIN_CONFIG: config, CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };

    // --time 1m: h_rt 60 s, s_rt 30 s (SIGUSR1, the walltime warning); run-one's own timeout (10 min) does not fit: the walltime stops sub-03
    const sub = await cli(["submit", "--scheduler", "sge", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--json", "--skip-disk-check", "--mem", "200M", "--time", "1m", "--timeout-minutes", "10", "--grace-seconds", "1", "--array-throttle", "3"], env);
    expect(sub.code, sub.stderr).toBe(0);
    const json = JSON.parse(sub.stdout) as { submission_id: string; job_ids: string[]; collect_job_id: string; warnings: string[]; submission: { chunks: number[][] } };
    expect(json.submission.chunks).toEqual([[0], [1], [2], [3], [4]]);
    expect(json.warnings.join("\n")).toMatch(/does not fit/);
    const arrayId = json.job_ids[0]!;
    expect(arrayId).toMatch(/^\d+$/);
    const script = readFileSync(path.join(out, ".cst-batch", "submissions", json.submission_id, "array-0.sh"), "utf8");
    expect(script).toContain("#$ -t 1-5");
    expect(script).toContain("#$ -tc 3");
    expect(script).toContain("#$ -l h_rt=00:01:00");
    expect(script).toContain("#$ -notify");
    const qsubs = bin.calls().filter((c) => c.startsWith("qsub"));
    expect(qsubs).toEqual([expect.stringMatching(/^qsub -terse \S+array-0\.sh$/), `qsub -terse -hold_jid ${arrayId} ${path.join(out, ".cst-batch", "submissions", json.submission_id, "collect.sh")}`]);

    // the throttle holds: never more than 3 of the array's tasks running at once
    let maxRunning = 0;
    // cancel sub-04 (index 3 = Grid Engine task 4) once its csttool runs: `cst-batch cancel` runs `qdel <job>.4`
    for (let i = 0; i < 240 && runsPerSubject(argvLog)["sub-04"] !== 1; i++) {
      const q = await runSchedulerCommand(["qstat", "-u", "*"], { env });
      if (q.kind === "ok") maxRunning = Math.max(maxRunning, q.stdout.split("\n").filter((l) => l.trim().startsWith(`${arrayId} `) && / r /.test(l)).length);
      await delay(250);
    }
    expect(runsPerSubject(argvLog)["sub-04"]).toBe(1);
    bin.reset();
    const cancelled = await cli(["cancel", "--out", out, "--subjects", "sub-04", "--json"], env);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(bin.calls().filter((c) => c.startsWith("qdel"))).toEqual([`qdel ${arrayId}.4`]);
    await waitForSgeJobsGone([arrayId, json.collect_job_id], 300_000);
    expect(maxRunning).toBeLessThanOrEqual(3);

    for (const s of ["sub-01", "sub-05"]) expect(existsSync(path.join(out, s, "_done.json"))).toBe(true);
    expect(failures(out, "sub-02")).toEqual([expect.stringMatching(/_PIPELINE_FAILED$/)]);
    expect(failures(out, "sub-03")).toEqual([expect.stringMatching(/_TIMEOUT$/)]);
    expect(attempt(out, "sub-03").message).toMatch(/SIGUSR1/);
    expect(failures(out, "sub-04")).toEqual([expect.stringMatching(/_CANCELLED$/)]);
    expect(attempt(out, "sub-04").message).toMatch(/SIGUSR2/);
    // run-one names the element as status does: job _ plan index (task 4 -> index 3)
    expect(attempt(out, "sub-04").job_id).toBe(`${arrayId}_3`);

    // collect ran once, after the array, as its own job (its output file, named by Grid Engine)
    const logs = readdirSync(path.join(out, "logs", "scheduler"));
    expect(logs.filter((f) => f.startsWith("cst-batch-collect.o"))).toEqual([`cst-batch-collect.o${json.collect_job_id}`]);
    const summary = readJson<{ counts: Record<string, number>; by_category: Record<string, number>; generated_at: string }>(path.join(out, "batch_summary.json"));
    expect(summary.counts).toMatchObject({ total: 5, success: 2, failed: 3, pending: 0, running: 0 });
    expect(summary.by_category).toEqual({ PIPELINE_FAILED: 1, TIMEOUT: 1, CANCELLED: 1 });
    const ends = ["sub-02", "sub-03", "sub-04"].map((s) => Date.parse(readJson<{ finished_at: string }>(path.join(out, s, "_failed_attempts", failures(out, s)[0]!, "attempt.json")).finished_at));
    expect(Date.parse(summary.generated_at)).toBeGreaterThanOrEqual(Math.max(...ends));

    // status: one qstat for the live queue, one qacct for the submission's array; causes as recorded
    bin.reset();
    const st = await cli(["status", "--out", out, "--json", "--all"], env);
    expect(st.code, st.stderr).toBe(0);
    expect(bin.calls()).toEqual([expect.stringMatching(/^qstat -xml -u \S+$/), `qacct -j ${arrayId}`]);
    const byKey = Object.fromEntries((JSON.parse(st.stdout) as StatusJson).tasks.map((t) => [t.key, t]));
    expect(byKey["sub-01"]).toMatchObject({ state: "done" });
    expect(byKey["sub-02"]).toMatchObject({ state: "failed", category: "PIPELINE_FAILED" });
    expect(byKey["sub-03"]).toMatchObject({ state: "failed", category: "TIMEOUT" });
    expect(byKey["sub-04"]).toMatchObject({ state: "failed", category: "CANCELLED" });

    // resubmit (on Grid Engine, as last time) with the pipeline fixed: exactly the three failed run again, in one contiguous array
    writeFileSync(config, "{}");
    bin.reset();
    const rs = await cli(["resubmit", "--out", out, "--no-profile", "--json"], env);
    expect(rs.code, rs.stderr).toBe(0);
    const rj = JSON.parse(rs.stdout) as { rerun: string[]; groups: Array<{ job_ids: string[]; collect_job_id: string; chunks: number[][] }> };
    expect(rj.rerun).toEqual(["sub-02", "sub-03", "sub-04"]);
    expect(rj.groups.flatMap((g) => g.chunks)).toEqual([[1], [2], [3]]);
    expect(bin.calls().filter((c) => c.startsWith("qsub"))).toHaveLength(2);
    const jobs = rj.groups.flatMap((g) => [...g.job_ids, g.collect_job_id]);
    await waitForSgeJobsGone(jobs, 240_000);
    expect(runsPerSubject(argvLog)).toEqual({ "sub-01": 1, "sub-02": 2, "sub-03": 2, "sub-04": 2, "sub-05": 1 });
    expect(readJson<{ counts: Record<string, number> }>(path.join(out, "batch_summary.json")).counts).toMatchObject({ total: 5, success: 5, failed: 0 });
  });

  it("a task killed at h_rt (no s_rt warning in the site's template) is recorded CANCELLED on -notify's SIGUSR2, and status corrects it to TIMEOUT from qacct's failed 37", async () => {
    const dir = tempDir("cst-sge-hrt-");
    const bids = await makeBidsDataset(path.join(dir, "bids"), [{ id: "sub-01" }]);
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-01": "hang" }));
    const out = path.join(dir, "out");
    const bin = sgeWrapperBin(path.join(dir, "bin"));
    const env = { ...bin.env, CSTTOOL_STANDIN_CONFIG: config, CSTTOOL_STANDIN_ARGV_LOG: path.join(dir, "argv.jsonl"), XDG_CONFIG_HOME: path.join(dir, "xdg") };
    // a site's copy of the array template without the s_rt line (--template-dir): only h_rt ends the task
    const templates = path.join(dir, "templates", "sge");
    mkdirSync(templates, { recursive: true });
    const packaged = readFileSync(path.join(REPO, "templates", "sge", "array.sh.hbs"), "utf8");
    const withoutSoft = packaged.replace(/\{\{#if sRt\}\}\n#\$ -l s_rt=\{\{q sRt\}\}\n\{\{\/if\}\}\n/, "");
    expect(withoutSoft).not.toContain("s_rt");
    writeFileSync(path.join(templates, "array.sh.hbs"), withoutSoft);

    const sub = await cli(["submit", "--scheduler", "sge", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--json", "--skip-disk-check", "--mem", "200M", "--time", "1m", "--timeout-minutes", "10", "--grace-seconds", "1", "--template-dir", path.join(dir, "templates")], env);
    expect(sub.code, sub.stderr).toBe(0);
    const json = JSON.parse(sub.stdout) as { job_ids: string[]; collect_job_id: string };
    const arrayId = json.job_ids[0]!;
    await waitForSgeJobsGone([arrayId, json.collect_job_id], 300_000);

    const acct = await runSchedulerCommand(["qacct", "-j", arrayId], { env });
    expect(acct.kind === "ok" ? acct.stdout : "").toMatch(/failed\s+37\s*:/);
    const st = await cli(["status", "--out", out, "--json", "--all"], env);
    expect(st.code, st.stderr).toBe(0);
    const s1 = JSON.parse(st.stdout) as StatusJson & { write_backs: Array<{ key: string; kind: string; outcome: { kind: string } }> };
    expect(s1.tasks.find((t) => t.key === "sub-01")).toMatchObject({ state: "failed", category: "TIMEOUT" });
    expect(s1.write_backs.filter((w) => w.kind !== "peak")).toEqual([expect.objectContaining({ key: "sub-01", outcome: expect.objectContaining({ kind: "written" }) })]);
    expect(failures(out, "sub-01")).toEqual([expect.stringMatching(/_TIMEOUT$/)]);
    const corrected = readJson<{ category: string; message: string; recorded_by: string; job_id: string }>(path.join(out, "sub-01", "_failed_attempts", failures(out, "sub-01")[0]!, "attempt.json"));
    expect(corrected).toMatchObject({ category: "TIMEOUT", recorded_by: "scheduler", job_id: `${arrayId}_0` });
    expect(corrected.message).toMatch(/failed 37.*run-one had recorded CANCELLED: stopped on request \(SIGUSR2\)/);
    // written once: the next status reads the corrected record and writes nothing
    const again = JSON.parse((await cli(["status", "--out", out, "--json", "--all"], env)).stdout) as typeof s1;
    expect(again.tasks.find((t) => t.key === "sub-01")).toMatchObject({ category: "TIMEOUT" });
    expect(again.write_backs.filter((w) => w.kind !== "peak")).toEqual([]);
  });
});
