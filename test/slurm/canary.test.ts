import { cpSync, existsSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeDemoBids, readJson, STANDIN, standinCalls, startCli, tempDir, type CliResult } from "../helpers/cli.js";
import { requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";
import { canaryVerdictPath } from "../../src/layout.js";

/**
 * The canary on the local Slurm, through the BUILT CLI (`npm run build` first), with the csttool
 * stand-in reproducing csttool's failed environment check (exit 0, "Environment check failed")
 * for every subject: 9 tasks submitted as one array with `--canary 2 --array-throttle 2`.
 * The first 2 subjects to finish write the verdict; every element started after it exits at once.
 * Bound: at most K + (throttle - 1) = 3 subjects run csttool (the K canaries, plus one element
 * that may have started while the K-th was still recording its failure). The rest are shown as
 * not run (not failed) by status and collect, both name the verdict and the fix, and after the
 * fix `resubmit` (the command they name) runs every one of them.
 */
const haveSlurm = requireSlurmOrSkip();

async function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return startCli(args, { env }).done;
}

interface StatusJson {
  totals: Record<string, number>;
  tasks: Array<{ key: string; state: string; category: string | null; reason: string | null }>;
  canary: { submission_id: string; message: string; next_step: string } | null;
}

/** The demo study (sub-01 two sessions, sub-02, sub-03 DICOM) plus sub-04..sub-08: 9 tasks. */
function nineTaskBids(dir: string): string {
  const bids = makeDemoBids(path.join(dir, "bids"));
  for (const n of ["04", "05", "06", "07", "08"]) {
    const to = path.join(bids, `sub-${n}`);
    cpSync(path.join(bids, "sub-02"), to, { recursive: true });
    for (const f of readdirSync(path.join(to, "dwi"))) renameSync(path.join(to, "dwi", f), path.join(to, "dwi", f.replace("sub-02", `sub-${n}`)));
  }
  return bids;
}

describe.skipIf(!haveSlurm)("the canary on the local Slurm", () => {
  it("a broken environment costs at most K + throttle - 1 subjects; the rest exit at once as not run, and resubmit after the fix runs them", async () => {
    const dir = tempDir("cst-slurm-canary-");
    const bids = nineTaskBids(dir);
    const subjects = ["sub-01", "sub-02", "sub-03", "sub-04", "sub-05", "sub-06", "sub-07", "sub-08"];
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify(Object.fromEntries(subjects.map((s) => [s, "env-check-failed"]))));
    const argvLog = path.join(dir, "argv.jsonl");
    const out = path.join(dir, "out");
    const env = { CSTTOOL_STANDIN_CONFIG: config, CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const sub = await cli(
      ["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--mem", "200M", "--time", "10m", "--canary", "2", "--array-throttle", "2", "--json"],
      env,
    );
    expect(sub.code, sub.stderr).toBe(0);
    const submitted = JSON.parse(sub.stdout) as { submission_id: string; job_ids: string[]; collect_job_id: string };
    await runSchedulerCommand(["scontrol", "top", [...submitted.job_ids, submitted.collect_job_id].join(",")]);
    await waitForSlurmJobsGone([...submitted.job_ids, submitted.collect_job_id], 240_000);

    // At most K + (throttle - 1) csttool runs, at least K.
    const ran = standinCalls(argvLog).length;
    expect(ran).toBeGreaterThanOrEqual(2);
    expect(ran).toBeLessThanOrEqual(3);
    const verdict = readJson<{ first: Array<{ key: string; category: string }> }>(canaryVerdictPath(out, submitted.submission_id));
    expect(verdict.first.map((f) => f.category)).toEqual(["SYSTEM", "SYSTEM"]);

    const st = await cli(["status", "--out", out, "--json"], env);
    expect(st.code, st.stderr).toBe(0);
    const s = JSON.parse(st.stdout) as StatusJson;
    expect(s.totals).toMatchObject({ total: 9, done: 0, failed: ran, "not-run": 9 - ran });
    const failed = s.tasks.filter((t) => t.state === "failed");
    expect(failed.map((t) => t.category)).toEqual(failed.map(() => "SYSTEM"));
    for (const t of s.tasks.filter((x) => x.state === "not-run")) {
      expect(t.category, t.key).toBeNull();
      expect(t.reason, t.key).toContain("canary");
      expect(existsSync(path.join(out, ...t.key.split("_"), "_failed_attempts")), t.key).toBe(false);
    }
    expect(s.canary?.submission_id).toBe(submitted.submission_id);
    expect(s.canary?.message).toContain("environment check failed");

    // The human status names the verdict, the cause and a next step that works.
    const human = await cli(["status", "--out", out], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/canary: .*stopped/);
    expect(human.stdout).toContain("User data dir: not writable");
    expect(human.stdout).toContain(`cst-batch resubmit --out ${out}`);

    // collect (run by the submission's collect job) lists the not-run subjects as not run, not as failures.
    const summary = readJson<{ counts: Record<string, number>; canary?: { submission_id: string; not_run: string[]; next_step: string } }>(path.join(out, "batch_summary.json"));
    expect(summary.counts).toMatchObject({ success: 0, failed: ran, pending: 9 - ran });
    expect(summary.canary?.submission_id).toBe(submitted.submission_id);
    expect(summary.canary?.not_run.sort()).toEqual(s.tasks.filter((t) => t.state === "not-run").map((t) => t.key).sort());
    expect(summary.canary?.next_step).toContain(`cst-batch resubmit --out ${out}`);

    // The fix, then resubmit: every subject runs (a new submission, its own canary).
    writeFileSync(config, "{}");
    const r = await cli(["resubmit", "--out", out, "--no-profile", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kind).toBe("submitted");
    const ids = j.groups.flatMap((g: { job_ids: string[]; collect_job_id: string | null }) => [...g.job_ids, g.collect_job_id].filter(Boolean));
    await runSchedulerCommand(["scontrol", "top", ids.join(",")]);
    await waitForSlurmJobsGone(ids, 240_000);
    const after = JSON.parse((await cli(["status", "--out", out, "--json"], env)).stdout) as StatusJson;
    expect(after.totals).toMatchObject({ total: 9, done: 9 });
    expect(after.canary).toBeNull();
    const collected = readJson<{ counts: Record<string, number>; canary?: unknown }>(path.join(out, "batch_summary.json"));
    expect(collected.counts).toMatchObject({ success: 9, pending: 0 });
    expect(collected.canary).toBeUndefined();
    expect(standinCalls(argvLog).length).toBe(ran + 9);
  }, 600_000);
});
