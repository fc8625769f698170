import { cpSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";

/**
 * Issue 18, "content, not timestamps", in the issue's own sequence: submit, the subjects run to
 * done, then their inputs are touched or the dataset is copied (new mtimes and inodes, same
 * bytes), then `plan` again, with no plan in between that could have read the bytes: run-one's
 * record of the bytes csttool ran on is what proves the content the same.
 */
function doneStudy(envExtra: Record<string, string> = {}) {
  const dir = tempDir("cst-e2e-content-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const argvLog = path.join(dir, "argv.jsonl");
  const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg"), ...envExtra };
  const out = path.join(dir, "out");
  const first = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--jobs", "2"], { env });
  if (first.code !== EXIT.OK) throw new Error(first.stderr);
  return { dir, bids, out, env, runs: () => standinCalls(argvLog).length };
}

const SUB02 = ["sub-02_dwi.nii.gz", "sub-02_dwi.bval", "sub-02_dwi.bvec", "sub-02_dwi.json"];

describe("input identity is content, not timestamps (run-one records the bytes csttool ran on)", () => {
  it("touching a done subject's inputs and planning again keeps it done and says content unchanged", () => {
    const s = doneStudy();
    expect(s.runs()).toBe(4);
    const done = readJson(path.join(s.out, "sub-02", "_done.json"));
    expect(done.input_hashes.map((h: { path: string }) => path.basename(h.path)).sort()).toEqual([...SUB02].sort());
    expect(done.input_hashes.every((h: { sha256: string }) => /^[0-9a-f]{64}$/.test(h.sha256))).toBe(true);
    // a DICOM subject records one hash for its series
    const dicom = readJson(path.join(s.out, "sub-03", "_done.json"));
    expect(dicom.input_hashes).toEqual([expect.objectContaining({ path: path.join(s.bids, "sub-03", "dwi"), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) })]);

    const later = new Date(Date.now() + 3600_000);
    for (const f of SUB02) utimesSync(path.join(s.bids, "sub-02", "dwi", f), later, later);
    const plan = runCli(["plan", "--out", s.out], { env: s.env });
    expect(plan.code, plan.stderr).toBe(EXIT.OK);
    expect(plan.stderr).toContain("sub-02 done: input touched (modified time), content unchanged — stays done");
    expect(plan.stderr).not.toContain("input changed");

    const status = runCli(["status", "--out", s.out, "--json"], { env: s.env });
    expect(JSON.parse(status.stdout).totals).toMatchObject({ done: 4, total: 4 });
    const again = runCli(["submit", "--scheduler", "local", "--out", s.out], { env: s.env });
    expect(again.code, again.stderr).toBe(EXIT.OK);
    expect(s.runs()).toBe(4);
  });

  it("a copied dataset (new mtimes, same bytes) reruns nothing", () => {
    const s = doneStudy();
    const copy = path.join(s.dir, "bids-copy");
    cpSync(s.bids, copy, { recursive: true }); // no timestamps kept: new inodes and mtimes
    rmSync(s.bids, { recursive: true });
    cpSync(copy, s.bids, { recursive: true });
    const later = new Date(Date.now() + 3600_000); // whatever the clock's resolution, the mtimes differ
    for (const f of SUB02) utimesSync(path.join(s.bids, "sub-02", "dwi", f), later, later);

    const look = runCli(["plan", "--out", s.out, "--dry-run", "--json"], { env: s.env });
    expect(look.code, look.stderr).toBe(EXIT.OK);
    const changes = JSON.parse(look.stdout).preview.changes as Array<{ reason: string; verdict: string; keys: string[] }>;
    // every subject, the DICOM one (sub-03: its series' hash) included, is proven the same
    expect(changes).toEqual([{ kind: "done", reason: "input touched (modified time), content unchanged", verdict: "same", keys: ["sub-01_ses-01", "sub-01_ses-02", "sub-02", "sub-03"] }]);

    const run = runCli(["submit", "--scheduler", "local", "--out", s.out], { env: s.env });
    expect(run.code, run.stderr).toBe(EXIT.OK);
    expect(s.runs()).toBe(4);
    const status = runCli(["status", "--out", s.out, "--json"], { env: s.env });
    expect(JSON.parse(status.stdout).totals).toMatchObject({ done: 4, total: 4 });
  });

  it("every input of a done study touched: plan after plan, each subject's plan line stays the one it was run with", () => {
    const s = doneStudy();
    const lines = () => readFileSync(path.join(s.out, ".cst-batch", "plan.jsonl"), "utf8").split("\n").slice(1).filter(Boolean).sort();
    const before = lines();
    expect(before).toHaveLength(4);
    const touchAll = (dir: string, when: Date): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) touchAll(p, when);
        else utimesSync(p, when, when);
      }
    };
    touchAll(s.bids, new Date(Date.now() + 3600_000));
    // The first plan proves each subject's bytes the same, the next finds the cache; neither changes a line.
    for (const round of [1, 2]) {
      const plan = runCli(["plan", "--out", s.out, "--json"], { env: s.env });
      expect(plan.code, `round ${round}: ${plan.stderr}`).toBe(EXIT.OK);
      expect(JSON.parse(plan.stdout).preview.resume).toMatchObject({ done: 4, to_run: 0 });
      expect(lines(), `round ${round}`).toEqual(before);
    }
    const status = runCli(["status", "--out", s.out, "--json"], { env: s.env });
    expect(JSON.parse(status.stdout).totals).toMatchObject({ done: 4, total: 4 });
    expect(runCli(["submit", "--scheduler", "local", "--out", s.out], { env: s.env }).code).toBe(EXIT.OK);
    expect(s.runs()).toBe(4);
  });

  it("a touched subject proven the same is proven once: the next plan takes it from the cache's proof without its record's hashes, and a later same-size change is still caught", () => {
    const s = doneStudy();
    const record = path.join(s.out, "sub-02", "_done.json");
    const touch = (when: Date): void => {
      for (const f of SUB02) utimesSync(path.join(s.bids, "sub-02", "dwi", f), when, when);
    };
    touch(new Date(Date.now() + 3600_000));
    const first = runCli(["plan", "--out", s.out], { env: s.env });
    expect(first.code, first.stderr).toBe(EXIT.OK);
    expect(first.stderr).toContain("sub-02 done: input touched (modified time), content unchanged — stays done");
    // The proof: the task as planned now (its inputs' new mtimes) holds the bytes of the done record's task.
    const shards = path.join(s.out, ".cst-batch", "input-hashes");
    const proofs = readdirSync(shards).flatMap((n) => Object.entries(readJson(path.join(shards, n)).entries as Record<string, { sha256: string }>).filter(([k]) => k.startsWith("same\u0000")));
    expect(proofs.map(([, v]) => v.sha256)).toEqual([readJson(record).config_hash]);

    // The record's hashes are not read again: with them spoiled, the proof still keeps sub-02 done.
    const text = readFileSync(record, "utf8");
    const spoiled = readJson(record);
    for (const h of spoiled.input_hashes) h.sha256 = "0".repeat(64);
    writeFileSync(record, JSON.stringify(spoiled, null, 2) + "\n");
    const next = runCli(["plan", "--out", s.out], { env: s.env });
    expect(next.code, next.stderr).toBe(EXIT.OK);
    expect(next.stderr).toContain("sub-02 done: input touched (modified time), content unchanged — stays done");
    expect(JSON.parse(runCli(["status", "--out", s.out, "--json"], { env: s.env }).stdout).totals).toMatchObject({ done: 4, total: 4 });
    writeFileSync(record, text);

    // Other bytes of the same size with new mtimes: a task the proof does not name, compared by content.
    const bvec = path.join(s.bids, "sub-02", "dwi", "sub-02_dwi.bvec");
    writeFileSync(bvec, readFileSync(bvec, "utf8").replace(/\d/, (d) => String((Number(d) + 1) % 10)));
    touch(new Date(Date.now() + 7200_000));
    const changed = runCli(["plan", "--out", s.out], { env: s.env });
    expect(changed.code, changed.stderr).toBe(EXIT.OK);
    expect(changed.stderr).toContain("sub-02 done: input changed (content) — kept done");
  });

  it("a same-size change of a done subject's input (NIfTI or a DICOM file) is reported as changed content and reruns only with --rerun-changed", () => {
    const s = doneStudy();
    const bvec = path.join(s.bids, "sub-02", "dwi", "sub-02_dwi.bvec");
    const text = readFileSync(bvec, "utf8");
    writeFileSync(bvec, text.replace(/\d/, (d) => String((Number(d) + 1) % 10))); // same size, other bytes
    const later = new Date(Date.now() + 3600_000);
    utimesSync(bvec, later, later);
    const dcm = path.join(s.bids, "sub-03", "dwi", "IM0002.dcm");
    const bytes = readFileSync(dcm);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1); // same size, one pixel byte different
    writeFileSync(dcm, bytes);
    utimesSync(dcm, later, later);

    const plan = runCli(["plan", "--out", s.out], { env: s.env });
    expect(plan.code, plan.stderr).toBe(EXIT.OK);
    expect(plan.stderr).toContain("sub-02, sub-03 done: input changed (content) — kept done");
    runCli(["submit", "--scheduler", "local", "--out", s.out], { env: s.env });
    expect(s.runs()).toBe(4);

    const rerun = runCli(["submit", "--scheduler", "local", "--out", s.out, "--rerun-changed"], { env: s.env });
    expect(rerun.code, rerun.stderr).toBe(EXIT.OK);
    expect(rerun.stderr).toContain("sub-02, sub-03 done: input changed (content) — will rerun");
    expect(s.runs()).toBe(6);
  });

  it("an input changed while csttool ran is said in the subject's log and its bytes are not vouched for", () => {
    const dir = tempDir("cst-e2e-content-cfg-");
    const cfg = path.join(dir, "behaviour.json");
    writeFileSync(cfg, JSON.stringify({ "sub-02": "touch-input" }));
    const s = doneStudy({ CSTTOOL_STANDIN_CONFIG: cfg });
    const done = readJson(path.join(s.out, "sub-02", "_done.json"));
    expect(done.input_hashes).toBeUndefined();
    expect(done.inputs_changed_during_run).toEqual([path.join(s.bids, "sub-02", "dwi", "sub-02_dwi.nii.gz")]);
    expect(readFileSync(path.join(s.out, "logs", "sub-02.log"), "utf8")).toMatch(/input\(s\) changed while csttool ran .*sub-02_dwi\.nii\.gz; their content hash is not recorded/);

    const plan = runCli(["plan", "--out", s.out], { env: s.env });
    expect(plan.stderr).toContain("sub-02 done: input changed (modified time) — kept done");
  });
});
