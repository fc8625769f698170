import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeDemoBids, runCli, STANDIN, tempDir } from "../helpers/cli.js";

/**
 * Fix-and-rerun in one command on a laptop: a subject fails on a damaged .bval; the user fixes the
 * file and runs `resubmit --failed`; exactly that subject is planned again and rerun, done
 * subjects are untouched.
 */
describe("fix and rerun, locally", () => {
  it("fixing a failed subject's input and running resubmit --failed reruns exactly that subject", () => {
    const dir = tempDir("cst-fix-rerun-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-02": "check-bval" }));
    const bval = path.join(bids, "sub-02", "dwi", "sub-02_dwi.bval");
    const good = readFileSync(bval, "utf8");
    writeFileSync(bval, good.replace(/0\n$/, "O\n")); // a letter O where a 0 belongs: same size
    const out = path.join(dir, "out");
    const env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const first = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--jobs", "2"], { env });
    expect(first.code, first.stderr).toBe(4);
    const before = JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout);
    expect(before.totals).toMatchObject({ done: 3, failed: 1 });
    expect(before.tasks.find((t: { key: string }) => t.key === "sub-02")).toMatchObject({ state: "failed", category: "PIPELINE_FAILED" });
    const doneStamps = ["sub-01/ses-01", "sub-01/ses-02", "sub-03"].map((d) => statSync(path.join(out, d, "_done.json")).mtimeMs);

    // the fix: same size, new content and time
    writeFileSync(bval, good);
    const later = new Date(Date.now() + 5_000);
    utimesSync(bval, later, later);
    const r = runCli(["resubmit", "--out", out, "--failed", "--no-profile", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kind).toBe("ran-locally");
    expect(j.rerun).toEqual(["sub-02"]);
    expect(j.replanned.map((p: { key: string }) => p.key)).toEqual(["sub-02"]);
    expect(j.groups.flatMap((g: { local_results: Array<{ key: string; outcome: string }> }) => g.local_results)).toEqual([{ key: "sub-02", outcome: "success", category: null }]);

    const after = JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout);
    expect(after.totals).toMatchObject({ total: 4, done: 4 });
    expect(["sub-01/ses-01", "sub-01/ses-02", "sub-03"].map((d) => statSync(path.join(out, d, "_done.json")).mtimeMs)).toEqual(doneStamps);
    expect(readdirSync(path.join(out, "sub-02", "_failed_attempts"))).toHaveLength(1);
    // nothing left to rerun: a second resubmit does nothing
    const again = JSON.parse(runCli(["resubmit", "--out", out, "--failed", "--no-profile", "--json"], { env }).stdout);
    expect(again.kind).toBe("nothing-to-do");
  }, 120_000);
});

describe("resubmit --mem-factor on a laptop", () => {
  function oomStudy(memPerSubject: string | null) {
    const dir = tempDir("cst-mem-factor-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-02": "oom", "sub-03": "oom" }));
    const out = path.join(dir, "out");
    const env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const extra = memPerSubject === null ? [] : ["--mem-per-subject", memPerSubject];
    const first = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--jobs", "2", "--canary", "0", ...extra], { env });
    expect(first.code, first.stderr).toBe(4);
    expect(JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout).by_category).toEqual({ OUT_OF_MEMORY: 2 });
    writeFileSync(config, "{}");
    return { out, env };
  }

  it("gives each OUT_OF_MEMORY rerun F times the memory by running fewer at once (--jobs ÷ F), and says so", () => {
    const s = oomStudy(null);
    const r = runCli(["resubmit", "--out", s.out, "--category", "OUT_OF_MEMORY", "--mem-factor", "2", "--jobs", "2", "--no-profile", "--json"], { env: s.env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.notes).toContain("OUT_OF_MEMORY: memory x2: 1 at once = --jobs 2 ÷ memory factor 2 (each subject gets 2x the memory)");
    expect(JSON.parse(runCli(["status", "--out", s.out, "--json"], { env: s.env }).stdout).totals).toMatchObject({ done: 4, failed: 0 });
  });

  it("without --jobs, counts F x the study's recorded --mem-per-subject against the available memory", () => {
    const s = oomStudy("3G");
    const r = runCli(["resubmit", "--out", s.out, "--category", "OUT_OF_MEMORY", "--mem-factor", "2", "--no-profile"], { env: s.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/OUT_OF_MEMORY: memory x2: \d+ at once = min\(\d+ CPU\(s\), [\d.]+ GiB available ÷ 6\.0 GiB per subject: --mem-per-subject 3\.0 GiB x memory factor 2\)/);
  });
});
