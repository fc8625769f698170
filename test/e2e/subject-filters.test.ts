import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, tempDir } from "../helpers/cli.js";

/** Issue 18, day one: `--exclude a,b` leaves out both, and a glob that matches no subject is said, never silent. */
function study() {
  const dir = tempDir("cst-e2e-filters-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  return { dir, bids, out: path.join(dir, "out"), env: { XDG_CONFIG_HOME: path.join(dir, "xdg") } };
}

type Warning = { severity: string; message: string };

describe("--include/--exclude take comma lists and warn about globs that match no subject", () => {
  it("plan --exclude sub-01,sub-03 leaves out both, and is recorded as two globs", () => {
    const s = study();
    const r = runCli(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--exclude", "sub-01,sub-03", "--json"], { env: s.env });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const j = JSON.parse(r.stdout);
    expect(j.preview.first_tasks.map((t: { key: string }) => t.key)).toEqual(["sub-02"]);
    expect(j.preview.excluded).toBe(2);
    expect(j.preview.warnings).toEqual([]);
    expect(readJson(path.join(s.out, ".cst-batch", "settings.json")).settings.exclude).toEqual(["sub-01", "sub-03"]);
  });

  it("a brace glob keeps its comma, and the flag may be repeated with comma lists", () => {
    const s = study();
    const r = runCli(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--exclude", "sub-0{1,3}", "--exclude", "7,sub-99", "--dry-run", "--json"], { env: s.env });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const preview = JSON.parse(r.stdout).preview;
    // sub-0{1,3} is one glob matching two subjects; "7" and "sub-99" match none and are said
    expect(preview.excluded).toBe(2);
    expect(preview.first_tasks.map((t: { key: string }) => t.key)).toEqual(["sub-02"]);
    expect(preview.warnings.map((w: Warning) => w.message)).toEqual([expect.stringMatching(/^--exclude "7" matches no subject/), expect.stringMatching(/^--exclude "sub-99" matches no subject/)]);
  });

  it("plan warns (human and --json) when an --exclude or --include glob matches no subject, and still plans", () => {
    const s = study();
    const human = runCli(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--exclude", "sub-01,sub-9", "--dry-run"], { env: s.env });
    expect(human.code, human.stderr).toBe(EXIT.OK);
    expect(human.stderr).toContain('warning: [request] --exclude "sub-9" matches no subject (of 3 found in');
    expect(human.stderr).not.toContain('--exclude "sub-01" matches no subject');
    const json = runCli(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--include", "sub-02,sub-77", "--dry-run", "--json"], { env: s.env });
    expect(json.code, json.stderr).toBe(EXIT.OK);
    const warnings = JSON.parse(json.stdout).preview.warnings as Warning[];
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^--include "sub-77" matches no subject \(of 3 found in /)]);
  });

  it("submit --json carries the warning too (local and a cluster dry run), and a manifest study is warned the same way", () => {
    const s = study();
    const local = runCli(["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--exclude", "sub-9*", "--json"], { env: s.env });
    expect(local.code, local.stderr).toBe(EXIT.OK);
    expect((JSON.parse(local.stdout).plan_warnings as Warning[]).map((w) => w.message)).toEqual([expect.stringMatching(/^--exclude "sub-9\*" matches no subject/)]);
    const dry = runCli(["submit", "--scheduler", "slurm", "--dry-run", "--out", s.out, "--exclude", "nobody", "--json"], { env: s.env });
    expect(dry.code, dry.stderr).toBe(EXIT.OK);
    expect((JSON.parse(dry.stdout).plan_warnings as Warning[]).map((w) => w.message)).toEqual([expect.stringMatching(/^--exclude "nobody" matches no subject/)]);

    const manifest = path.join(s.dir, "m.json");
    writeFileSync(manifest, JSON.stringify({ schema_version: 1, subjects: [{ id: "sub-02", nifti: path.join(s.bids, "sub-02", "dwi", "sub-02_dwi.nii.gz") }] }));
    const m = runCli(["plan", "--manifest", manifest, "--out", path.join(s.dir, "m-out"), "--csttool", STANDIN, "--exclude", "sub-5", "--dry-run"], { env: s.env });
    expect(m.code, m.stderr).toBe(EXIT.OK);
    expect(m.stderr).toContain('--exclude "sub-5" matches no subject (of 1 found in');
  });
});
