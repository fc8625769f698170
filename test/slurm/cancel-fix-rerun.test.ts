import { readFileSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { makeDemoBids, STANDIN, startCli, tempDir, type CliResult } from "../helpers/cli.js";
import { requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";

/**
 * `cancel` and fix-and-rerun through the BUILT CLI on the local Slurm (`npm run build` first),
 * with the csttool stand-in: a study's running and queued elements are cancelled and recorded,
 * a second cancel does nothing; a subject failed on a damaged .bval is fixed and `resubmit
 * --failed` reruns exactly that subject.
 */
const haveSlurm = requireSlurmOrSkip();

async function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return startCli(args, { env }).done;
}

interface StatusJson {
  totals: Record<string, number>;
  tasks: Array<{ key: string; state: string; category: string | null }>;
}
async function status(out: string, env: Record<string, string>): Promise<StatusJson> {
  const r = await cli(["status", "--out", out, "--json"], env);
  if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusJson;
}

describe.skipIf(!haveSlurm)("cancel and fix-and-rerun on the local Slurm", () => {
  it("cancel stops the study's running and queued elements, records them, and a second cancel does nothing", async () => {
    const dir = tempDir("cst-slurm-cancel-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-01": "hang", "sub-02": "hang", "sub-03": "hang" }));
    const out = path.join(dir, "out");
    const env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const sub = await cli(["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--mem", "200M", "--time", "10m", "--array-throttle", "1", "--json"], env);
    expect(sub.code, sub.stderr).toBe(0);
    const submitted = JSON.parse(sub.stdout) as { job_ids: string[]; collect_job_id: string };
    await runSchedulerCommand(["scontrol", "top", submitted.job_ids.join(",")]);
    // one element running its csttool, the others queued behind the throttle
    let s = await status(out, env);
    for (let i = 0; i < 300 && (s.totals.running! < 1 || s.totals.running! + s.totals["pending-in-queue"]! < 4); i++) {
      await delay(300);
      s = await status(out, env);
    }
    expect(s.totals.running).toBe(1);
    expect(s.totals["pending-in-queue"]).toBe(3);

    const c = await cli(["cancel", "--out", out, "--json"], env);
    expect(c.code, c.stderr).toBe(0);
    const j = JSON.parse(c.stdout);
    expect(j.kind).toBe("cancelled");
    expect(j.targets).toHaveLength(4);
    expect(j.commands.map((x: { argv: string[] }) => x.argv[0])).toEqual(["scancel"]);
    expect(j.still_in_flight).toEqual([]);
    const running = j.targets.find((t: { state_before: string }) => t.state_before === "running");
    expect(running).toMatchObject({ how: "scheduler", state_after: "failed", category_after: "CANCELLED" });
    await waitForSlurmJobsGone(submitted.job_ids);

    const after = await status(out, env);
    expect(after.totals.running).toBe(0);
    expect(after.totals["pending-in-queue"]).toBe(0);
    const again = await cli(["cancel", "--out", out, "--json"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ kind: "nothing-to-cancel", commands: [] });
    expect((await status(out, env)).totals).toEqual(after.totals);
    await runSchedulerCommand(["scancel", submitted.collect_job_id]);
  }, 240_000);

  it("fixing a failed subject's input and running resubmit --failed reruns exactly that subject", async () => {
    const dir = tempDir("cst-slurm-fix-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-02": "check-bval" }));
    const bval = path.join(bids, "sub-02", "dwi", "sub-02_dwi.bval");
    const good = readFileSync(bval, "utf8");
    writeFileSync(bval, good.replace(/0\n$/, "O\n"));
    const out = path.join(dir, "out");
    const env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const sub = await cli(["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--mem", "200M", "--time", "10m", "--json"], env);
    expect(sub.code, sub.stderr).toBe(0);
    const first = JSON.parse(sub.stdout) as { job_ids: string[]; collect_job_id: string };
    await runSchedulerCommand(["scontrol", "top", first.job_ids.join(",")]);
    await waitForSlurmJobsGone([...first.job_ids, first.collect_job_id], 180_000);
    const before = await status(out, env);
    expect(before.totals).toMatchObject({ done: 3, failed: 1 });

    writeFileSync(bval, good);
    const later = new Date(Date.now() + 5_000);
    utimesSync(bval, later, later);
    const r = await cli(["resubmit", "--out", out, "--failed", "--no-profile", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kind).toBe("submitted");
    expect(j.rerun).toEqual(["sub-02"]);
    expect(j.replanned.map((p: { key: string }) => p.key)).toEqual(["sub-02"]);
    const ids = j.groups.flatMap((g: { job_ids: string[]; collect_job_id: string | null }) => [...g.job_ids, g.collect_job_id].filter(Boolean));
    await runSchedulerCommand(["scontrol", "top", ids.join(",")]);
    await waitForSlurmJobsGone(ids, 180_000);
    const after = await status(out, env);
    expect(after.totals).toMatchObject({ total: 4, done: 4 });
  }, 400_000);
});
