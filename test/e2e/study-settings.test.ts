import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";
import { fakeSchedulerEnv } from "../helpers/fake-scheduler.js";

/** "A study that remembers itself": settings given once, used by every later command on --out. */
function study() {
  const dir = tempDir("cst-e2e-settings-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const argvLog = path.join(dir, "argv.jsonl");
  const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };
  return { dir, bids, out: path.join(dir, "out"), env, argvLog, settings: path.join(dir, "out", ".cst-batch", "settings.json") };
}

describe("the study's settings, given once", () => {
  it("a plan's flags are remembered: a later submit with only --out runs with them", () => {
    const s = study();
    const plan = runCli(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--exclude", "sub-03", "--timeout-minutes", "30", "--fa-thr", "0.2"], { env: s.env });
    expect(plan.code).toBe(EXIT.OK);
    expect(plan.stderr).toContain(`settings recorded in ${s.settings}`);
    const file = readJson(s.settings);
    expect(file).toMatchObject({ schema_version: 1, kind: "cst-batch-settings" });
    expect(file.settings).toEqual({ bids_dir: s.bids, exclude: ["sub-03"], csttool: STANDIN, timeout_minutes: 30, "options.fa_thr": 0.2 });
    expect((file.resolved as { csttool_version: string }).csttool_version).toMatch(/\d+\.\d+/);

    // the user comes back later, from another folder, and gives only --out
    const run = runCli(["submit", "--scheduler", "local", "--out", s.out, "--jobs", "2"], { env: s.env, cwd: s.dir });
    expect(run.code, run.stderr).toBe(EXIT.OK);
    const calls = standinCalls(s.argvLog).map((c) => c.argv.join(" "));
    expect(calls).toHaveLength(3); // sub-03 stays excluded
    expect(calls.every((a) => a.includes("--fa-thr 0.2"))).toBe(true);
    expect(calls.some((a) => a.includes("--subject-id 03"))).toBe(false);
    const plan2 = readFileSync(path.join(s.out, ".cst-batch", "plan.jsonl"), "utf8").split("\n")[0]!;
    expect(JSON.parse(plan2).run.timeout_minutes).toBe(30);
  });

  it("a flag given later changes the recorded value and says so, old → new, in human and --json output", () => {
    const s = study();
    expect(runCli(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--fa-thr", "0.2"], { env: s.env }).code).toBe(EXIT.OK);
    const human = runCli(["plan", "--out", s.out, "--fa-thr", "0.15"], { env: s.env });
    expect(human.code).toBe(EXIT.OK);
    expect(human.stderr).toContain("setting changed: fa_thr 0.2 → 0.15");
    expect(readJson(s.settings).settings).toMatchObject({ "options.fa_thr": 0.15, bids_dir: s.bids });

    const json = runCli(["plan", "--out", s.out, "--timeout-minutes", "45", "--json"], { env: s.env });
    expect(json.code).toBe(EXIT.OK);
    const doc = JSON.parse(json.stdout);
    expect(doc.settings.changes).toEqual([{ setting: "timeout_minutes", old: null, new: 45 }]);
    expect(doc.settings.written).toBe(true);

    const shown = runCli(["config", "--out", s.out], { env: s.env });
    expect(shown.code).toBe(EXIT.OK);
    expect(shown.stdout).toMatch(/options\.fa_thr\s+0\.15/);
    expect(shown.stdout).toMatch(/timeout_minutes\s+45/);
    expect(shown.stdout).toContain("fa_thr 0.2 → 0.15");
    const shownJson = JSON.parse(runCli(["config", "--out", s.out, "--json"], { env: s.env }).stdout);
    expect(shownJson.history.map((h: { changes: unknown[] }) => h.changes.length)).toEqual([1, 1]);
  });

  it("scheduler and resources given to the first submit are used by the next one, which needs only --out", () => {
    const s = study();
    const fake = fakeSchedulerEnv(s.dir);
    const first = runCli(["submit", "--scheduler", "slurm", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--time", "2h", "--mem", "4G", "--partition", "short", "--setup", "module load csttool"], { env: fake.env });
    expect(first.code, first.stderr).toBe(EXIT.OK);
    expect(readJson(s.settings).settings).toMatchObject({ scheduler: "slurm", time: "2h", mem: "4G", partition: "short", setup: ["module load csttool"] });
    const look = runCli(["submit", "--out", s.out, "--dry-run"], { env: fake.env });
    expect(look.code, look.stderr).toBe(EXIT.OK);
    expect(look.stdout).toContain("#SBATCH --partition=short");
    expect(look.stdout).toContain("#SBATCH --mem=4096M");
    expect(look.stdout).toContain("module load csttool");
    // a local run of the same study does not complain about the recorded cluster settings
    const local = runCli(["submit", "--out", s.out, "--scheduler", "local", "--dry-run"], { env: fake.env });
    expect(local.code, local.stderr).toBe(EXIT.OK);
    expect(local.stderr).not.toMatch(/ignored in local mode/);
    expect(local.stderr).toContain("setting changed: scheduler slurm → local (dry run: not recorded)");
  });

  it("a changed flag in a dry run is shown but not recorded", () => {
    const s = study();
    expect(runCli(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--fa-thr", "0.2"], { env: s.env }).code).toBe(EXIT.OK);
    const before = readFileSync(s.settings, "utf8");
    const look = runCli(["plan", "--out", s.out, "--fa-thr", "0.3", "--dry-run"], { env: s.env });
    expect(look.code).toBe(EXIT.OK);
    expect(look.stderr).toContain("setting changed: fa_thr 0.2 → 0.3 (dry run: not recorded)");
    expect(readFileSync(s.settings, "utf8")).toBe(before);
  });

  it("a damaged settings file stops the command, naming the file and the fix", () => {
    const s = study();
    expect(runCli(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN], { env: s.env }).code).toBe(EXIT.OK);
    writeFileSync(s.settings, "{ not json");
    const r = runCli(["plan", "--out", s.out], { env: s.env });
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain(s.settings);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    const c = runCli(["config", "--out", path.join(s.dir, "elsewhere")], { env: s.env });
    expect(c.code).toBe(EXIT.USAGE);
    expect(c.stderr).toMatch(/no settings recorded/);
  });
});
