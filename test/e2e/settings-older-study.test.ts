import { existsSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";

/** `next: cst-batch submit --out /x --dry-run` -> the argv after `cst-batch` (paths here have no quotes or spaces). */
function nextCommands(stderr: string): string[][] {
  return stderr
    .split("\n")
    .map((l) => /^\s*(?:next|or):\s+cst-batch\s+(.*)$/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined)
    .map((c) => c.trim().split(/\s+/));
}

/**
 * Issue 18: a study planned before its settings were recorded (no `.cst-batch/settings.json`, as
 * an older cst-batch left it) still works with `--out` alone: the current plan says what it was
 * planned from, and every next step printed for it is a command that works.
 */
describe("a study planned before settings were recorded", () => {
  it("plan, the printed next steps, config and submit work with --out alone, from the current plan's source", () => {
    const dir = tempDir("cst-e2e-older-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const out = path.join(dir, "out");
    const argvLog = path.join(dir, "argv.jsonl");
    const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const first = runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--fa-thr", "0.25", "--exclude", "sub-01", "--json"], { env });
    expect(first.code, first.stderr).toBe(EXIT.OK);
    const planId = JSON.parse(first.stdout).plan.plan_id as string;
    const settings = path.join(out, ".cst-batch", "settings.json");
    rmSync(settings); // an older study: no settings file

    const config = runCli(["config", "--out", out], { env });
    expect(config.code, config.stderr).toBe(EXIT.OK);
    expect(config.stdout).toContain("none recorded");
    expect(config.stdout).toMatch(/bids_dir\s+\S*bids/);

    const again = runCli(["plan", "--out", out], { env });
    expect(again.code, again.stderr).toBe(EXIT.OK);
    expect(again.stderr).toContain("using its current plan's source");
    expect(again.stderr).not.toContain("setting changed");
    // the same study: same source, csttool, options and exclusions give the same plan
    expect(readJson(settings).resolved.plan_id).toBe(planId);
    expect(readJson(settings).settings).toMatchObject({ bids_dir: bids, exclude: ["sub-01"], "options.fa_thr": 0.25 });

    rmSync(settings);
    const next = nextCommands(again.stderr);
    expect(next.length).toBeGreaterThan(0);
    for (const argv of next) {
      rmSync(settings, { force: true });
      const r = runCli([...argv, ...(argv[0] === "submit" && !argv.includes("--scheduler") ? ["--scheduler", "local"] : [])], { env });
      expect(r.code, `${argv.join(" ")}: ${r.stderr}`).toBe(EXIT.OK);
    }
    // the real submit ran the planned subjects with the recorded option, and left sub-01 out
    const runs = standinCalls(argvLog).map((c) => c.argv.join(" "));
    expect(runs).toHaveLength(2);
    expect(runs.every((a) => a.includes("--fa-thr 0.25") && !a.includes("--subject-id 01"))).toBe(true);
    expect(existsSync(settings)).toBe(true);
  });

  it("a manifest study without settings re-plans from its manifest", () => {
    const dir = tempDir("cst-e2e-older-m-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const out = path.join(dir, "out");
    const env = { XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const manifest = path.join(dir, "manifest.json");
    const nifti = path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz");
    writeFileSync(manifest, JSON.stringify({ schema_version: 1, options: { fa_thr: 0.3 }, subjects: [{ id: "sub-02", nifti }] }));
    const first = runCli(["plan", "--manifest", manifest, "--out", out, "--csttool", STANDIN, "--json"], { env });
    expect(first.code, first.stderr).toBe(EXIT.OK);
    rmSync(path.join(out, ".cst-batch", "settings.json"));
    const again = runCli(["plan", "--out", out, "--json"], { env });
    expect(again.code, again.stderr).toBe(EXIT.OK);
    const json = JSON.parse(again.stdout);
    expect(json.settings).toMatchObject({ from_plan: true, values: { manifest } });
    expect(json.plan.plan_id).toBe(JSON.parse(first.stdout).plan.plan_id);
  });
});
