import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";
import { readJson, REPO, STANDIN, startCli, tempDir, type CliResult } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { currentSlurmMode, startSlurmMode } from "../helpers/slurm-mode.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";

/**
 * What really happened, on the test Slurm configured as sites configure it (built CLI, csttool
 * stand-in). Each test starts the configuration it needs with scripts/slurm-local-start.sh
 * (CST_SLURM_MEMORY=cgroup | overmemorykill | none) and the file restores the default at the end.
 * These tests reconfigure the shared cluster and set its node down: they run alone, after the
 * other suites (`npm run test:slurm-modes`, vitest.slurm-modes.config.ts, called by .ci/run);
 * by hand, hold /tmp/cst-slurm.lock around them.
 */
const haveSlurm = requireSlurmOrSkip();
afterAll(() => {
  if (!haveSlurm) return;
  // back to the configuration the other suites expect
  void runSchedulerCommand(["scontrol", "update", "nodename=localhost", "state=resume"]);
  startSlurmMode("none");
}, 300_000);

async function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return startCli(args, { env }).done;
}

interface StatusJson {
  tasks: Array<{ key: string; state: string; category: string | null; reason: string | null }>;
}
async function status(out: string, env: Record<string, string>): Promise<StatusJson> {
  const r = await cli(["status", "--out", out, "--json"], env);
  if (r.code !== 0) throw new Error(`status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusJson;
}

/**
 * A csttool that, for `run` (not the probes), first holds `mb` of touched memory for 3 s in its
 * own process (the process the kernel or slurmstepd kills), then runs the stand-in.
 */
function memoryHungryCsttool(dir: string, mb: number): string {
  const file = path.join(dir, "hungry-csttool");
  writeFileSync(
    file,
    `#!${process.execPath}
const { spawnSync } = require("node:child_process");
const args = process.argv.slice(2);
if (args[0] === "run" && !args.includes("--help")) {
  const held = Buffer.alloc(${mb} * 1024 * 1024, 1);
  const until = Date.now() + 3000;
  while (Date.now() < until) held[Math.floor(Math.random() * held.length)] = 2;
}
const r = spawnSync(${JSON.stringify(STANDIN)}, args, { stdio: "inherit" });
process.exit(r.status ?? 1);
`,
  );
  chmodSync(file, 0o755);
  return file;
}

async function study(prefix: string, subjects: string[]) {
  const dir = tempDir(prefix);
  const bids = await makeBidsDataset(path.join(dir, "bids"), subjects.map((id) => ({ id })));
  const out = path.join(dir, "out");
  const config = path.join(dir, "behaviours.json");
  writeFileSync(config, "{}");
  const env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
  return { dir, bids, out, config, env };
}

function submitted(r: CliResult): { job_ids: string[]; collect_job_id: string } {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe.skipIf(!haveSlurm)("the test Slurm as sites run it: the scheduler's cause is what status shows", () => {
  for (const mode of ["cgroup", "overmemorykill"] as const) {
    it(`a subject over its --mem ends OUT_OF_MEMORY (${mode}), and resubmit --mem-factor completes it`, async () => {
      startSlurmMode(mode);
      expect(currentSlurmMode()).toBe(mode);
      const s = await study(`cst-mode-${mode}-`, ["sub-01"]);
      const csttool = memoryHungryCsttool(s.dir, 400);
      const flags = ["--bids-dir", s.bids, "--out", s.out, "--csttool", csttool, "--skip-disk-check", "--no-profile", "--json"];
      const sub = submitted(await cli(["submit", "--scheduler", "slurm", ...flags, "--mem", "250M", "--time", "5m"], s.env));
      await waitForSlurmJobsGone(sub.job_ids, 180_000);
      const st = await status(s.out, s.env);
      expect(st.tasks[0], JSON.stringify(st.tasks[0])).toMatchObject({ state: "failed", category: "OUT_OF_MEMORY" });

      const rs = await cli(["resubmit", "--out", s.out, "--category", "OUT_OF_MEMORY", "--mem-factor", "4", "--no-profile", "--json"], s.env);
      expect(rs.code, rs.stderr).toBe(0);
      const rj = JSON.parse(rs.stdout) as { rerun: string[]; groups: Array<{ mem_mib: number; job_ids: string[] }> };
      expect(rj.rerun).toEqual(["sub-01"]);
      expect(rj.groups[0]!.mem_mib).toBe(1000);
      await waitForSlurmJobsGone(rj.groups[0]!.job_ids, 180_000);
      expect((await status(s.out, s.env)).tasks[0]).toMatchObject({ state: "done" });
    }, 420_000);
  }

  it("a walltime kill with no warning signal (a template without --signal) ends TIMEOUT after status", async () => {
    startSlurmMode("none");
    const s = await study("cst-mode-walltime-", ["sub-01"]);
    writeFileSync(s.config, JSON.stringify({ "sub-01": "hang" }));
    // the packaged Slurm template without its --signal lines
    const templates = path.join(s.dir, "templates", "slurm");
    mkdirSync(templates, { recursive: true });
    const original = readFileSync(path.join(REPO, "templates", "slurm", "array.sh.hbs"), "utf8");
    const noSignal = original.replace(/\{\{#if signal\}\}\n#SBATCH --signal=\{\{q signal\}\}\n\{\{\/if\}\}\n/, "");
    expect(noSignal).not.toContain("--signal");
    writeFileSync(path.join(templates, "array.sh.hbs"), noSignal);
    const flags = ["--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check", "--no-profile", "--json"];
    const sub = submitted(await cli(["submit", "--scheduler", "slurm", ...flags, "--time", "1m", "--timeout-minutes", "10", "--template-dir", path.join(s.dir, "templates")], s.env));
    await waitForSlurmJobsGone(sub.job_ids, 240_000);
    const st = await status(s.out, s.env);
    expect(st.tasks[0], JSON.stringify(st.tasks[0])).toMatchObject({ state: "failed", category: "TIMEOUT" });
    const failed = path.join(s.out, "sub-01", "_failed_attempts");
    const records = readdirSync(failed);
    expect(records).toEqual([expect.stringMatching(/_TIMEOUT$/)]);
  }, 420_000);

  it("a node set down mid-run and resumed: the subjects end done once, never shown failed while requeued, never resubmitted", async () => {
    startSlurmMode("none");
    const subjects = ["sub-01", "sub-02"];
    const s = await study("cst-mode-nodedown-", subjects);
    writeFileSync(s.config, JSON.stringify({ "sub-01": "sleep:20", "sub-02": "sleep:20" }));
    const flags = ["--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check", "--no-profile", "--json"];
    const sub = submitted(await cli(["submit", "--scheduler", "slurm", ...flags, "--time", "5m"], s.env));
    await runSchedulerCommand(["scancel", sub.collect_job_id]);
    // both subjects' csttool runs
    const started = Date.now();
    while (!subjects.every((k) => existsSync(path.join(s.out, k, "_work", "attempt.json")))) {
      if (Date.now() - started > 120_000) throw new Error("subjects did not start");
      await delay(300);
    }
    await delay(2000);
    expect(await runSchedulerCommand(["scontrol", "update", "nodename=localhost", "state=down", "reason=cst-batch-test"])).toMatchObject({ kind: "ok" });
    // Resume; with ReturnToService=2 the node may already have come back by itself when slurmd
    // re-registered (then "resume" is an invalid transition): either way it must be usable again.
    for (let i = 0; ; i++) {
      await delay(1000);
      const r = await runSchedulerCommand(["scontrol", "update", "nodename=localhost", "state=resume"]);
      const st = await runSchedulerCommand(["sinfo", "-h", "-n", "localhost", "-o", "%T"]);
      if (r.kind === "ok" || (st.kind === "ok" && /^(idle|mixed|allocated|completing)/.test(st.stdout.trim()))) break;
      if (i >= 60) throw new Error(`the node could not be resumed: ${JSON.stringify(r)} ${JSON.stringify(st)}`);
    }

    // Slurm makes a requeued job eligible ~2 min later (EligibleTime = requeue + 121 s on 22.05).
    // Meanwhile and while it runs again: never failed, and resubmit has nothing to do.
    const seen = new Set<string>();
    const end = Date.now() + 300_000;
    for (;;) {
      const st = await status(s.out, s.env);
      for (const t of st.tasks) {
        seen.add(`${t.key}:${t.state}:${t.category ?? ""}`);
        expect(t.state, JSON.stringify(t)).not.toBe("failed");
        expect(t.state, JSON.stringify(t)).not.toBe("stale");
      }
      if (st.tasks.every((t) => t.state === "done")) break;
      if (st.tasks.some((t) => t.state === "pending-in-queue" || t.state === "running")) {
        const rs = await cli(["resubmit", "--out", s.out, "--failed", "--no-profile", "--json"], s.env);
        expect(JSON.parse(rs.stdout), rs.stderr).toMatchObject({ kind: "nothing-to-do" });
      }
      if (Date.now() > end) throw new Error(`not done: ${[...seen].join(", ")}`);
      await delay(2000);
    }
    await waitForSlurmJobsGone(sub.job_ids, 60_000);
    // done once: one done record each, one submission (never resubmitted)
    for (const k of subjects) expect(readJson<{ job_id: string }>(path.join(s.out, k, "_done.json")).job_id).toMatch(new RegExp(`^${sub.job_ids[0]}_`));
    expect(readdirSync(path.join(s.out, ".cst-batch", "submissions")).filter((f) => f.endsWith(".json"))).toHaveLength(1);
    // the interrupted attempts were recorded as requeues, not cancellations
    for (const k of subjects) {
      const dirs = existsSync(path.join(s.out, k, "_failed_attempts")) ? readdirSync(path.join(s.out, k, "_failed_attempts")) : [];
      for (const d of dirs) expect(d).not.toMatch(/_CANCELLED$/);
    }
  }, 420_000);
});
