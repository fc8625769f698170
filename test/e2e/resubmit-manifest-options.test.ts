import { statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";

/**
 * Fix-and-rerun for options: in a manifest study, a subject failed; the user changes its options
 * in the manifest and runs `resubmit --failed`; that subject is planned again with the new
 * options (the study's recorded command-line options still on top) and rerun, done subjects stay
 * as they were.
 */
describe("resubmit re-plans a subject whose options changed in the manifest", () => {
  it("changing a failed subject's options in the manifest and running resubmit --failed reruns it with them; done subjects are untouched", () => {
    const dir = tempDir("cst-e2e-manifest-opts-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const out = path.join(dir, "out");
    const manifest = path.join(dir, "study.jsonc");
    const argvLog = path.join(dir, "argv.jsonl");
    const config = path.join(dir, "behaviours.json");
    const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog, CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const writeManifest = (sub02Options: Record<string, unknown>, studyOptions: Record<string, unknown> = { fa_thr: 0.2 }): void =>
      writeFileSync(
        manifest,
        JSON.stringify({
          schema_version: 1,
          options: studyOptions,
          subjects: [
            { id: "sub-01", session: "ses-01", nifti: path.join(bids, "sub-01", "ses-01", "dwi", "sub-01_ses-01_dwi.nii.gz") },
            { id: "sub-02", nifti: path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz"), options: sub02Options },
          ],
        }),
      );
    writeManifest({});
    writeFileSync(config, JSON.stringify({ "sub-02": "fail" }));
    const first = runCli(["submit", "--scheduler", "local", "--manifest", manifest, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--seed-density", "2"], { env });
    expect(first.code, first.stderr).toBe(EXIT.SUBJECT_FAILED);
    expect(standinCalls(argvLog)).toHaveLength(2);
    const doneStamp = statSync(path.join(out, "sub-01", "ses-01", "_done.json")).mtimeMs;

    // a wrong value in the manifest: the subject is left out, with the manifest's own words, and nothing runs
    writeManifest({ fa_thr: 5 });
    const refused = JSON.parse(runCli(["resubmit", "--out", out, "--failed", "--no-profile", "--json"], { env }).stdout);
    expect(refused.rerun).toEqual([]);
    expect(refused.blocked).toHaveLength(1);
    expect(refused.blocked[0].key).toBe("sub-02");
    expect(refused.blocked[0].reason).toMatch(/manifest entry is not valid now: .*fa_thr.*fix the manifest/);
    expect(standinCalls(argvLog)).toHaveLength(2);

    // the fix: sub-02 gets its own fa_thr; the study-wide options change too (sub-01 is done: it stays done)
    writeManifest({ fa_thr: 0.15 }, { fa_thr: 0.25 });
    writeFileSync(config, JSON.stringify({}));
    const r = runCli(["resubmit", "--out", out, "--failed", "--no-profile", "--json"], { env });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const j = JSON.parse(r.stdout);
    expect(j.rerun).toEqual(["sub-02"]);
    expect(j.replanned).toEqual([{ key: "sub-02", reason: "options changed in the manifest: fa_thr 0.2 → 0.15" }]);
    const calls = standinCalls(argvLog);
    expect(calls).toHaveLength(3);
    const argv = calls[2]!.argv.join(" ");
    expect(argv).toContain("--subject-id 02");
    expect(argv).toContain("--fa-thr 0.15");
    expect(argv).toContain("--seed-density 2"); // the recorded command-line option still applies
    expect(statSync(path.join(out, "sub-01", "ses-01", "_done.json")).mtimeMs).toBe(doneStamp);

    const after = JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout);
    expect(after.totals).toMatchObject({ total: 2, done: 2 });
  }, 120_000);
});
