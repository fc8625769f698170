import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, writeFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, parseCsv, readJson, runCli, STANDIN, standinCalls, startCli, tempDir } from "../helpers/cli.js";

function setup() {
  const dir = tempDir("cst-e2e-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const out = path.join(dir, "out with space");
  const argvLog = path.join(dir, "argv.jsonl");
  const config = path.join(dir, "standin.json");
  return { dir, bids, out, argvLog, config };
}

describe("local mode through the built CLI", () => {
  it("runs a BIDS study with sessions, NIfTI and DICOM, records a failure, then reruns only the failure", () => {
    const s = setup();
    writeFileSync(s.config, JSON.stringify({ "sub-02": "fail" }));
    const env = { CSTTOOL_STANDIN_ARGV_LOG: s.argvLog, CSTTOOL_STANDIN_CONFIG: s.config };
    const first = runCli(
      ["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--jobs", "2"],
      { env },
    );
    expect(first.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect(first.code).toBe(EXIT.SUBJECT_FAILED);

    // csttool got bare labels and the right input kind
    const calls = standinCalls(s.argvLog);
    expect(calls).toHaveLength(4);
    const argvs = calls.map((c) => c.argv.join(" "));
    expect(argvs.some((a) => a.includes("--subject-id 01") && a.includes("--session-id 02"))).toBe(true);
    expect(argvs.some((a) => a.includes("--subject-id 03") && a.includes("--dicom"))).toBe(true);
    expect(argvs.every((a) => !/--subject-id sub-/.test(a) && !/--session-id ses-/.test(a))).toBe(true);

    // results promoted, _done.json last, failure recorded
    for (const dir of ["sub-01/ses-01", "sub-01/ses-02", "sub-03"]) {
      const done = readJson(path.join(s.out, dir, "_done.json"));
      expect(done.schema_version).toBe(1);
      for (const f of done.files as Array<{ path: string }>) expect(existsSync(path.join(s.out, dir, f.path))).toBe(true);
      expect(existsSync(path.join(s.out, dir, "_work"))).toBe(false);
    }
    expect(existsSync(path.join(s.out, "sub-02", "_done.json"))).toBe(false);
    const failed = readdirSync(path.join(s.out, "sub-02", "_failed_attempts"));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/_PIPELINE_FAILED$/);
    expect(existsSync(path.join(s.out, "logs", "sub-02_error.log"))).toBe(true);

    // collect ran at the end
    const summary = readJson(path.join(s.out, "batch_summary.json"));
    expect(summary.counts).toMatchObject({ total: 4, success: 3, failed: 1, pending: 0, running: 0 });
    const csv = parseCsv(readFileSync(path.join(s.out, "batch_metrics.csv"), "utf8"));
    expect(csv[0]!.slice(0, 6)).toEqual(["subject_id", "session_id", "status", "error_category", "duration_seconds", "error"]);
    expect(csv.slice(1).filter((r) => r.length > 1)).toHaveLength(4);

    // second run: only the failed subject runs again, and now succeeds
    writeFileSync(s.config, JSON.stringify({}));
    const second = runCli(
      ["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--jobs", "2"],
      { env },
    );
    expect(second.code).toBe(EXIT.OK);
    const calls2 = standinCalls(s.argvLog);
    expect(calls2).toHaveLength(5);
    expect(calls2[4]!.argv.join(" ")).toContain("--subject-id 02");
    expect(readJson(path.join(s.out, "batch_summary.json")).counts).toMatchObject({ success: 4, failed: 0 });
  });

  it("applies option precedence: flag > subject options > manifest options", () => {
    const s = setup();
    const manifest = path.join(s.dir, "study.json");
    writeFileSync(
      manifest,
      JSON.stringify({
        name: "precedence",
        options: { fa_thr: 0.3, seed_density: 3 },
        subjects: [
          { id: "sub-01", session: "ses-01", nifti: "bids/sub-01/ses-01/dwi/sub-01_ses-01_dwi.nii.gz", options: { fa_thr: 0.25 } },
          { subject_id: "02", nifti: "bids/sub-02/dwi/sub-02_dwi.nii.gz" },
        ],
      }),
    );
    const r = runCli(
      ["submit", "--scheduler", "local", "--manifest", manifest, "--out", s.out, "--csttool", STANDIN, "--seed-density", "2"],
      { env: { CSTTOOL_STANDIN_ARGV_LOG: s.argvLog } },
    );
    expect(r.code).toBe(EXIT.OK);
    const byLabel = new Map(standinCalls(s.argvLog).map((c) => [c.argv[c.argv.indexOf("--subject-id") + 1], c.argv]));
    const a1 = byLabel.get("01")!;
    const a2 = byLabel.get("02")!;
    expect(a1[a1.indexOf("--fa-thr") + 1]).toBe("0.25");
    expect(a2[a2.indexOf("--fa-thr") + 1]).toBe("0.3");
    expect(a1[a1.indexOf("--seed-density") + 1]).toBe("2");
    expect(a2[a2.indexOf("--seed-density") + 1]).toBe("2");
  });

  it("Ctrl-C stops cleanly: running subjects and those not started yet recorded as CANCELLED, summary written, no survivors", async () => {
    const s = setup();
    const run = startCli(
      ["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--jobs", "2", "--grace-seconds", "1"],
      { env: { CSTTOOL_STANDIN_ARGV_LOG: s.argvLog, CSTTOOL_STANDIN_BEHAVIOR: "hang" } },
    );
    const deadline = Date.now() + 20_000;
    while (standinCalls(s.argvLog).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(standinCalls(s.argvLog)).toHaveLength(2);
    run.child.kill("SIGINT");
    const res = await run.done;
    expect(res.code).toBe(EXIT.INTERRUPTED);
    const summary = readJson(path.join(s.out, "batch_summary.json"));
    // two were running, two not started (csttool never ran for them)
    expect(summary.counts.failed).toBe(4);
    expect(summary.by_category.CANCELLED).toBe(4);
    expect(standinCalls(s.argvLog)).toHaveLength(2);
    for (const c of standinCalls(s.argvLog)) expect(() => process.kill(c.pid, 0)).toThrow();
  });

  it("two local runs over one --out at the same time never run a subject twice", async () => {
    const s = setup();
    const args = ["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--jobs", "2"];
    const env = { CSTTOOL_STANDIN_ARGV_LOG: s.argvLog, CSTTOOL_STANDIN_BEHAVIOR: "sleep:1" };
    const a = startCli(args, { env });
    const b = startCli(args, { env });
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect([ra.code, rb.code]).toContain(EXIT.OK);
    const keys = standinCalls(s.argvLog).map((c) => {
      const sub = c.argv[c.argv.indexOf("--subject-id") + 1];
      const i = c.argv.indexOf("--session-id");
      return i >= 0 ? `${sub}_${c.argv[i + 1]}` : sub;
    });
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toHaveLength(4);
  });

  it("a bad manifest gives a clear error and the documented exit code, not a stack trace", () => {
    const s = setup();
    const manifest = path.join(s.dir, "bad.json");
    writeFileSync(manifest, JSON.stringify({ subjects: [{ id: "sub-01", nifty: "x.nii.gz" }] }));
    const r = runCli(["submit", "--scheduler", "local", "--manifest", manifest, "--out", s.out, "--csttool", STANDIN]);
    expect(r.code).toBe(EXIT.USAGE); // README "Exit codes": invalid manifest
    expect(r.stderr).toContain("nifty");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(s.out, "batch_summary.json"))).toBe(false);
  });
});
