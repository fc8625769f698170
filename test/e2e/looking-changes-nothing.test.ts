import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, tempDir } from "../helpers/cli.js";
import { treeSnapshot } from "../helpers/tree.js";
import { fakeSchedulerEnv } from "../helpers/fake-scheduler.js";

/**
 * "Looking never changes anything": a dry run (any scheduler, any changed flag) and `plan
 * --dry-run` leave every byte under --out as it was, and say what a real run would do.
 */
function study() {
  const dir = tempDir("cst-e2e-look-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  return { dir, bids, out: path.join(dir, "out"), env: fakeSchedulerEnv(dir).env };
}

describe("a look at the study changes nothing under --out", () => {
  it("a dry run with a changed flag leaves status and collect unchanged (every scheduler, byte for byte)", () => {
    const s = study();
    const base = ["--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check"];
    const ran = runCli(["submit", "--scheduler", "local", ...base, "--jobs", "2"], { env: s.env });
    expect(ran.code).toBe(EXIT.OK);
    const statusBefore = runCli(["status", "--out", s.out, "--json"], { env: s.env });
    const before = treeSnapshot(s.out);

    for (const scheduler of ["slurm", "pbs", "torque", "local"]) {
      const extra = scheduler === "local" ? [] : ["--time", "2h"];
      const look = runCli(["submit", "--scheduler", scheduler, ...base, ...extra, "--fa-thr", "0.15", "--dry-run"], { env: s.env });
      expect(look.code, `${scheduler}: ${look.stderr}`).toBe(EXIT.OK);
      // it shows what a real run would do: every done subject would rerun with the new option
      expect(look.stderr, scheduler).toMatch(/would/);
      expect(treeSnapshot(s.out), `submit --scheduler ${scheduler} --dry-run`).toEqual(before);
    }
    const planLook = runCli(["plan", ...base, "--fa-thr", "0.15", "--dry-run"], { env: s.env });
    expect(planLook.code).toBe(EXIT.OK);
    expect(planLook.stderr).toMatch(/dry run: nothing written/);
    expect(treeSnapshot(s.out), "plan --dry-run").toEqual(before);

    const statusAfter = runCli(["status", "--out", s.out, "--json"], { env: s.env });
    const withoutTime = (text: string): unknown => ({ ...JSON.parse(text), generated_at: null });
    expect(withoutTime(statusAfter.stdout)).toEqual(withoutTime(statusBefore.stdout));
    const collected = runCli(["collect", "--out", s.out, "--json"], { env: s.env });
    expect(collected.code).toBe(EXIT.OK);
    expect(JSON.stringify(JSON.parse(collected.stdout))).toMatch(/"success":4/);
  });

  it("a dry run into a folder that does not exist yet creates nothing", () => {
    const s = study();
    const look = runCli(["submit", "--scheduler", "slurm", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--time", "2h", "--dry-run"], { env: s.env });
    expect(look.code).toBe(EXIT.OK);
    expect(look.stderr).toMatch(/dry run: would submit 4 task\(s\)/);
    expect(existsSync(s.out)).toBe(false);
  });
});
