import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeDemoBids, runCli, STANDIN, startCli, tempDir } from "../helpers/cli.js";

/** `status` / `resubmit` through the built CLI on a local-mode study (no scheduler needed). */
let out: string;
let env: Record<string, string>;

beforeAll(() => {
  const dir = tempDir("cst-status-e2e-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const config = path.join(dir, "behaviours.json");
  writeFileSync(config, JSON.stringify({ "sub-01_ses-01": "fail" }));
  out = path.join(dir, "out");
  env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
  const r = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--jobs", "2"], { env });
  expect(r.code, r.stderr).toBe(4); // one subject failed
}, 120_000);

describe("cst-batch status (built CLI)", () => {
  it("--json: one row per task with state, category, attempts, duration, log; totals", () => {
    const r = runCli(["status", "--out", out, "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.totals).toMatchObject({ total: 4, done: 3, failed: 1 });
    expect(j.by_category).toEqual({ PIPELINE_FAILED: 1 });
    const failed = j.tasks.find((t: { key: string }) => t.key === "sub-01_ses-01");
    expect(failed).toMatchObject({ state: "failed", category: "PIPELINE_FAILED", attempts: 1, error_log_path: "logs/sub-01_ses-01_error.log" });
    expect(failed.duration_seconds).toBeGreaterThan(0);
    expect(j.scheduler.commands).toEqual([]); // local runs: nothing to ask
  });

  it("--failed lists only failed tasks; --category accepts INPUT as an alias and rejects unknown names", () => {
    const f = runCli(["status", "--out", out, "--failed"], { env });
    expect(f.code).toBe(0);
    const lines = f.stdout.split("\n").filter((l) => /^sub-/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^sub-01\s+ses-01\s+failed\s+PIPELINE_FAILED/);
    expect(f.stdout).toMatch(/4 task\(s\): 3 done, 1 failed/);
    const input = runCli(["status", "--out", out, "--category", "INPUT", "--json"], { env });
    expect(input.code).toBe(0);
    expect(JSON.parse(input.stdout).tasks).toEqual([]);
    const bad = runCli(["status", "--out", out, "--category", "SLOW"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown failure category "SLOW"/);
  });

  it("--exit-code exits 4 (a subject failed) where the default is 0; each category found is listed with a next step that works for this local study", () => {
    expect(runCli(["status", "--out", out], { env }).code).toBe(0);
    const r = runCli(["status", "--out", out, "--exit-code"], { env });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/next step for PIPELINE_FAILED \(1\): .*`cst-batch resubmit --out \S+ --category PIPELINE_FAILED`/);
    const j = JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout);
    expect(j.next_steps).toHaveLength(1);
    expect(j.next_steps[0]).toMatchObject({ category: "PIPELINE_FAILED", count: 1 });
    expect(j.next_steps[0].next_step).not.toMatch(/--scheduler (slurm|pbs|torque)|--mem-factor|--time-factor/); // a local study reruns here
  });

  it("the failure record's next step names a resubmit command that reruns exactly that subject here", () => {
    const attempts = readdirSync(path.join(out, "sub-01", "ses-01", "_failed_attempts"));
    const record = JSON.parse(readFileSync(path.join(out, "sub-01", "ses-01", "_failed_attempts", attempts[0]!, "attempt.json"), "utf8"));
    const command = /`cst-batch (resubmit [^`]*)`/.exec(record.next_step);
    expect(command, record.next_step).not.toBeNull();
    // Temp paths hold no spaces or quotes: the command splits on blanks.
    const args = command![1]!.split(" ");
    expect(args).toEqual(expect.arrayContaining(["--subjects", "sub-01_ses-01"]));
    const rerun = runCli([...args, "--no-profile", "--json"], { env });
    expect(rerun.code, rerun.stderr).toBe(4); // it ran the subject again (the stand-in still fails it)
    expect(JSON.parse(rerun.stdout).rerun).toEqual(["sub-01_ses-01"]);
    expect(readdirSync(path.join(out, "sub-01", "ses-01", "_failed_attempts"))).toHaveLength(attempts.length + 1);
  });

  it("--watch on a study with nothing queued or running prints one plain block (not on a terminal) and exits by itself", async () => {
    const w = startCli(["status", "--out", out, "--watch", "--interval", "2"], { env });
    const r = await w.done;
    expect(r.code, r.stderr).toBe(0);
    expect((r.stdout.match(/^--- cst-batch status --out/gm) ?? []).length).toBe(1);
    expect(r.stdout).toMatch(/nothing queued or running: done watching/);
    expect(r.stdout).not.toContain("\u001b[2J");
  }, 20_000);

  it("--interval below 2 s is refused (no tight polling)", () => {
    const r = runCli(["status", "--out", out, "--watch", "--interval", "0.1"], { env });
    expect(r.code).toBe(2);
  });

  it("resubmit --scheduler slurm on a study never submitted to Slurm says what to do instead", () => {
    const r = runCli(["resubmit", "--out", out, "--failed", "--no-profile", "--scheduler", "slurm"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no slurm submission recorded/);
    expect(r.stderr).toMatch(/--scheduler local/);
  });
});
