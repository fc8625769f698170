import { appendFileSync, cpSync, readdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";

/** "Re-plans explain themselves": reason lines per change, and done results protected unless --rerun-changed. */
function doneStudy() {
  const dir = tempDir("cst-e2e-replan-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const argvLog = path.join(dir, "argv.jsonl");
  const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };
  const out = path.join(dir, "out");
  const first = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--fa-thr", "0.2", "--jobs", "2"], { env });
  if (first.code !== EXIT.OK) throw new Error(first.stderr);
  return { dir, bids, out, env, runs: () => standinCalls(argvLog).map((c) => c.argv.join(" ")) };
}

/** Rename every file of a copied subject folder to the new subject's name (BIDS names carry the subject). */
function copySubject(bids: string, from: string, to: string): void {
  cpSync(path.join(bids, from), path.join(bids, to), { recursive: true });
  const dwi = path.join(bids, to, "dwi");
  for (const f of readdirSync(dwi)) renameSync(path.join(dwi, f), path.join(dwi, f.replace(from, to)));
}

describe("a re-plan explains what it changes, per reason", () => {
  it("a changed option, a changed input and a new subject each get a reason line; done results are kept without --rerun-changed", () => {
    const s = doneStudy();
    expect(s.runs()).toHaveLength(4);
    appendFileSync(path.join(s.bids, "sub-02", "dwi", "sub-02_dwi.bval"), " 0");
    copySubject(s.bids, "sub-02", "sub-04");

    const look = runCli(["plan", "--out", s.out, "--fa-thr", "0.15", "--dry-run"], { env: s.env });
    expect(look.code, look.stderr).toBe(EXIT.OK);
    expect(look.stderr).toContain("sub-01_ses-01, sub-01_ses-02, sub-03 done: fa_thr 0.2 → 0.15 — kept done");
    expect(look.stderr).toContain("sub-02 done: fa_thr 0.2 → 0.15, input changed (size) — kept done");
    expect(look.stderr).toContain("sub-04 new — would run");
    expect(look.stderr).toMatch(/4 done subject\(s\) changed and keep their results; to rerun them, give the same command with --rerun-changed/);

    // without the flag the plan keeps the done results: only the new subject runs
    const kept = runCli(["submit", "--scheduler", "local", "--out", s.out, "--fa-thr", "0.15"], { env: s.env });
    expect(kept.code, kept.stderr).toBe(EXIT.OK);
    expect(s.runs()).toHaveLength(5);
    expect(s.runs()[4]).toContain("--subject-id 04");
    expect(s.runs()[4]).toContain("--fa-thr 0.15");
    expect(readJson(path.join(s.out, "batch_summary.json")).counts).toMatchObject({ total: 5, success: 5 });

    // with it, the four done subjects rerun with the new option, and the reasons say "will rerun"
    const json = runCli(["plan", "--out", s.out, "--rerun-changed", "--json"], { env: s.env });
    expect(json.code).toBe(EXIT.OK);
    const changes = JSON.parse(json.stdout).preview.changes as Array<{ kind: string; reason: string; verdict: string; keys: string[] }>;
    expect(changes).toEqual([
      { kind: "done", reason: "fa_thr 0.2 → 0.15", verdict: "rerun", keys: ["sub-01_ses-01", "sub-01_ses-02", "sub-03"] },
      { kind: "done", reason: "fa_thr 0.2 → 0.15, input changed (size)", verdict: "rerun", keys: ["sub-02"] },
    ]);
    const rerun = runCli(["submit", "--scheduler", "local", "--out", s.out], { env: s.env });
    expect(rerun.code, rerun.stderr).toBe(EXIT.OK);
    expect(s.runs()).toHaveLength(9);
    expect(s.runs().slice(5).every((a) => a.includes("--fa-thr 0.15"))).toBe(true);
  });

  it("reason lines stay one per reason however many subjects share it", () => {
    const s = doneStudy();
    for (let i = 10; i < 40; i++) copySubject(s.bids, "sub-02", `sub-${i}`);
    const look = runCli(["plan", "--out", s.out, "--dry-run"], { env: s.env });
    expect(look.code).toBe(EXIT.OK);
    expect(look.stderr).toContain("sub-10…sub-39 new (30) — would run");
    expect(look.stderr.split("\n").filter((l) => /— would run/.test(l))).toHaveLength(1);
  });
});

describe("input identity is content, not timestamps", () => {
  it("touching done subjects' inputs (same bytes) keeps them done; same-size new bytes are a change", () => {
    const s = doneStudy();
    // the study's second plan remembers the inputs' bytes (the first read them too)
    expect(runCli(["plan", "--out", s.out], { env: s.env }).code).toBe(EXIT.OK);
    const later = new Date(Date.now() + 3600_000);
    for (const f of ["sub-02_dwi.bval", "sub-02_dwi.nii.gz"]) utimesSync(path.join(s.bids, "sub-02", "dwi", f), later, later);
    const bvec = path.join(s.bids, "sub-01", "ses-01", "dwi", "sub-01_ses-01_dwi.bvec");
    const text = readFileSync(bvec, "utf8");
    writeFileSync(bvec, text.replace(/\d/, (d) => String((Number(d) + 1) % 10))); // same size, other bytes

    const look = runCli(["plan", "--out", s.out, "--rerun-changed", "--dry-run", "--json"], { env: s.env });
    expect(look.code, look.stderr).toBe(EXIT.OK);
    const preview = JSON.parse(look.stdout).preview;
    expect(preview.changes).toEqual([
      { kind: "done", reason: "input changed (content)", verdict: "rerun", keys: ["sub-01_ses-01"] },
      { kind: "done", reason: "input touched (modified time), content unchanged", verdict: "same", keys: ["sub-02"] },
    ]);
    expect(preview.resume).toMatchObject({ done: 3, changed: 1, to_run: 1 });

    const run = runCli(["submit", "--scheduler", "local", "--out", s.out, "--rerun-changed"], { env: s.env });
    expect(run.code, run.stderr).toBe(EXIT.OK);
    expect(s.runs()).toHaveLength(5);
    expect(s.runs()[4]).toContain("--session-id 01");
  });
});
