import { existsSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";

/**
 * The cache of input hashes in bounded memory (issue 21): shards under `.cst-batch/input-hashes/`,
 * written only with the plan. Studies done by an older cst-batch (done records without
 * `input_hashes`, a single `.cst-batch/input-hashes.json`) keep what it proved.
 */
const DONE = ["sub-01/ses-01", "sub-01/ses-02", "sub-02", "sub-03"];
const SUB02 = ["sub-02_dwi.nii.gz", "sub-02_dwi.bval", "sub-02_dwi.bvec", "sub-02_dwi.json"];

/** A study whose four subjects are done, their records then stripped of `input_hashes` as an older cst-batch wrote them. */
function olderDoneStudy() {
  const dir = tempDir("cst-e2e-hash-cache-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const argvLog = path.join(dir, "argv.jsonl");
  const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };
  const out = path.join(dir, "out");
  const first = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--jobs", "2"], { env });
  if (first.code !== EXIT.OK) throw new Error(first.stderr);
  for (const d of DONE) {
    const file = path.join(out, d, "_done.json");
    const { input_hashes: _gone, ...older } = readJson(file);
    writeFileSync(file, JSON.stringify(older, null, 2) + "\n");
  }
  return { bids, out, env, runs: () => standinCalls(argvLog).length };
}

const shardsOf = (out: string): string[] => (existsSync(path.join(out, ".cst-batch", "input-hashes")) ? readdirSync(path.join(out, ".cst-batch", "input-hashes")).sort() : []);
const touchSub02 = (bids: string): void => {
  const later = new Date(Date.now() + 3600_000);
  for (const f of SUB02) utimesSync(path.join(bids, "sub-02", "dwi", f), later, later);
};

describe("the input-hash cache, in shards written with the plan", () => {
  it("a study done by an older cst-batch: the first plan hashes the done inputs into shards (a dry run writes none), a later touch stays done", () => {
    const s = olderDoneStudy();
    const look = runCli(["plan", "--out", s.out, "--dry-run"], { env: s.env });
    expect(look.code, look.stderr).toBe(EXIT.OK);
    expect(shardsOf(s.out)).toEqual([]);

    expect(runCli(["plan", "--out", s.out], { env: s.env }).code).toBe(EXIT.OK);
    const shards = shardsOf(s.out);
    expect(shards.length).toBeGreaterThan(0);
    expect(shards.every((n) => /^\d\d\.json$/.test(n))).toBe(true);
    const entries = shards.flatMap((n) => Object.keys(readJson(path.join(s.out, ".cst-batch", "input-hashes", n)).entries));
    // every NIfTI input file of the three NIfTI subjects (the DICOM one has no file entries to remember)
    for (const f of SUB02) expect(entries.some((k) => k.startsWith(path.join(s.bids, "sub-02", "dwi", f) + "\u0000"))).toBe(true);

    touchSub02(s.bids);
    const again = runCli(["plan", "--out", s.out], { env: s.env });
    expect(again.code, again.stderr).toBe(EXIT.OK);
    expect(again.stderr).toContain("sub-02 done: input touched (modified time), content unchanged — stays done");
    expect(runCli(["submit", "--scheduler", "local", "--out", s.out], { env: s.env }).code).toBe(EXIT.OK);
    expect(s.runs()).toBe(4);
  });

  it("the single cache file an older cst-batch wrote still proves a touch the same, and is moved into the shards by the next plan", () => {
    const s = olderDoneStudy();
    expect(runCli(["plan", "--out", s.out], { env: s.env }).code).toBe(EXIT.OK);
    // As the older cst-batch kept it: one file of every entry, no shards.
    const dir = path.join(s.out, ".cst-batch", "input-hashes");
    const entries = Object.assign({}, ...shardsOf(s.out).map((n) => readJson(path.join(dir, n)).entries));
    rmSync(dir, { recursive: true });
    const single = path.join(s.out, ".cst-batch", "input-hashes.json");
    writeFileSync(single, JSON.stringify({ schema_version: 1, kind: "cst-batch-input-hashes", entries }, null, 2));

    touchSub02(s.bids);
    const look = runCli(["plan", "--out", s.out, "--dry-run"], { env: s.env });
    expect(look.stderr).toContain("sub-02 done: input touched (modified time), content unchanged — stays done");
    expect(existsSync(single)).toBe(true);
    expect(shardsOf(s.out)).toEqual([]);

    const again = runCli(["plan", "--out", s.out], { env: s.env });
    expect(again.code, again.stderr).toBe(EXIT.OK);
    expect(again.stderr).toContain("sub-02 done: input touched (modified time), content unchanged — stays done");
    expect(existsSync(single)).toBe(false);
    const moved = Object.assign({}, ...shardsOf(s.out).map((n) => readJson(path.join(dir, n)).entries));
    for (const [k, v] of Object.entries(entries)) expect(moved[k]).toEqual(v);
    expect(runCli(["submit", "--scheduler", "local", "--out", s.out], { env: s.env }).code).toBe(EXIT.OK);
    expect(s.runs()).toBe(4);
  });

  it("a plan that stops on a problem puts nothing of the cache in place", () => {
    const s = olderDoneStudy();
    // Preflight fails after the content check (which hashed the done inputs): not enough free space.
    const r = runCli(["plan", "--out", s.out, "--min-free-gb", "1000000000"], { env: s.env });
    expect(r.code, r.stderr).toBe(EXIT.PREFLIGHT);
    expect(shardsOf(s.out)).toEqual([]);
  });
});
