import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, tempDir } from "../helpers/cli.js";

/** Small things a user meets on day one: plain range errors, did-you-mean in a manifest, the next command. */
describe("day one with cst-batch", () => {
  it("a value out of range says the option and the range in plain words", () => {
    const dir = tempDir("cst-e2e-day1-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const r = runCli(["plan", "--bids-dir", bids, "--out", path.join(dir, "out"), "--csttool", STANDIN, "--fa-thr", "2", "--seed-density", "0"]);
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toContain("--fa-thr must be between 0 and 1, got 2");
    expect(r.stderr).toContain("--seed-density must be a whole number between 1 and 100, got 0");
    const t = runCli(["plan", "--bids-dir", bids, "--out", path.join(dir, "out"), "--csttool", STANDIN, "--timeout-minutes", "0"]);
    expect(t.code).toBe(EXIT.USAGE);
    expect(t.stderr).toContain("--timeout-minutes must be more than 0, got 0");
  });

  it("a misspelt option key in a manifest gets a did-you-mean, at the study and the subject level", () => {
    const dir = tempDir("cst-e2e-day1-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const manifest = path.join(dir, "study.json");
    writeFileSync(
      manifest,
      JSON.stringify({ options: { fa_th: 0.2 }, subjects: [{ id: "sub-02", nifti: path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz"), options: { seed_dens: 2 } }] }),
    );
    const r = runCli(["plan", "--manifest", manifest, "--out", path.join(dir, "out"), "--csttool", STANDIN]);
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toMatch(/options\.fa_th: unknown key[^\n]*\n\s+fix: did you mean "fa_thr"\?/);
    expect(r.stderr).toMatch(/subjects\[0\]\.options\.seed_dens: unknown key[^\n]*\n\s+fix: did you mean "seed_density"\?/);
  });

  it("plan and submit end with the next command, and it works", () => {
    const dir = tempDir("cst-e2e-day1-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const out = path.join(dir, "out");
    const env = { XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const plan = runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN], { env });
    expect(plan.code).toBe(EXIT.OK);
    const next = /^next: (.*)$/m.exec(plan.stderr)?.[1];
    expect(next).toBe(`cst-batch submit --out ${out} --dry-run`);
    // what it says to run next runs (the study's settings fill in the rest)
    const look = runCli([...next!.split(" ").slice(1), "--scheduler", "local"], { env });
    expect(look.code, look.stderr).toBe(EXIT.OK);
    expect(look.stderr).toMatch(/dry run: would run 4 of 4 task\(s\)/);
    expect(look.stderr).toMatch(/^next: cst-batch submit --out \S+ --scheduler local$/m);
    const run = runCli(["submit", "--out", out, "--scheduler", "local", "--json"], { env });
    expect(run.code).toBe(EXIT.OK);
    expect(JSON.parse(run.stdout).next).toEqual([`cst-batch status --out ${out}`]);
    expect(runCli(JSON.parse(run.stdout).next[0].split(" ").slice(1), { env }).code).toBe(EXIT.OK);
  });
});
