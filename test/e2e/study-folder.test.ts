import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";
import { readCurrentPlan } from "../helpers/plan-file.js";
import { linkedSeries } from "../../src/run/csttool-argv.js";

/**
 * "The folder given is the study" through the built CLI: a plan copied from another study is
 * refused (both folders named, nothing written), and a study moved with `mv` keeps working where
 * it is now without re-creating its old path.
 */

/** Every file under `dir` with its content hash (symlinks by target): byte-identical means equal maps. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      const rel = path.relative(dir, p);
      if (st.isSymbolicLink()) files[rel] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        files[`${rel}/`] = "dir";
        walk(p);
      } else files[rel] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir);
  return files;
}

function runLocalStudy(bids: string, out: string, env: Record<string, string>, extra: string[] = []) {
  return runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--jobs", "2", ...extra], { env });
}

/** The plan index of a task key in a study's current plan. */
function indexOf(out: string, key: string): number {
  const plan = readCurrentPlan(out);
  const t = plan.tasks.find((x) => x.key === key);
  if (!t) throw new Error(`no task ${key}`);
  return t.index;
}

/** Fake sbatch / scontrol / squeue on PATH: job ids 1001, 1002, ...; squeue knows no job (so their elements are "unknown"). */
function fakeSlurm(dir: string): string {
  const bin = path.join(dir, "fakebin");
  mkdirSync(bin, { recursive: true });
  const script = `#!/bin/bash
name=$(basename "$0")
echo "$name $*" >> "${bin}/calls.log"
case "$name" in
  scontrol) echo "MaxArraySize            = 1001"; exit 0 ;;
  squeue) exit 0 ;;
  sacct) echo "sacct: error: accounting storage is disabled" >&2; exit 1 ;;
esac
n=$(( $(cat "${bin}/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "${bin}/count"
echo "$((1000 + n))"
`;
  for (const name of ["sbatch", "scontrol", "squeue", "sacct", "scancel"]) {
    writeFileSync(path.join(bin, name), script);
    chmodSync(path.join(bin, name), 0o755);
  }
  return bin;
}

describe("the folder given is the study (built CLI)", () => {
  it("status, collect and run-one refuse a plan copied from another study that still holds it, name both folders and leave both untouched", () => {
    const dir = tempDir("cst-study-foreign-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const env = { XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const b = path.join(dir, "B");
    const a = path.join(dir, "A");
    expect(runLocalStudy(bids, b, env).code).toBe(EXIT.OK);
    // A is a study of its own (one subject), with its own reports.
    expect(runLocalStudy(bids, a, env, ["--include", "sub-02"]).code).toBe(EXIT.OK);
    copyFileSync(path.join(b, ".cst-batch", "plan.jsonl"), path.join(a, ".cst-batch", "plan.jsonl"));
    const beforeA = snapshot(a);
    const beforeB = snapshot(b);

    for (const args of [["status", "--out", a], ["status", "--out", a, "--json"], ["collect", "--out", a], ["collect", "--out", a, "--json"]]) {
      const r = runCli(args, { env });
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(EXIT.USAGE);
      // --json: the error document on stdout (code and message); without it stdout stays empty
      if (args.includes("--json")) expect(JSON.parse(r.stdout)).toMatchObject({ kind: "error", error: { exit_code: EXIT.USAGE, message: expect.stringContaining(`belongs to the study ${b}, not to ${a}`) } });
      else expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`belongs to the study ${b}, not to ${a}`);
      expect(r.stderr).toMatch(/what to do: .*--out /);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    }
    const one = runCli(["run-one", "--plan", path.join(a, ".cst-batch", "plan.jsonl"), "--index", "0", "--force"], { env });
    expect(one.code, one.stderr).toBe(EXIT.USAGE);
    expect(one.stderr).toContain(`belongs to the study ${b}, not to ${a}`);

    expect(snapshot(a)).toEqual(beforeA);
    expect(snapshot(b)).toEqual(beforeB);
  }, 180_000);

  it("a moved study (mv B C) works where it is now: status, collect, run-one, submit and resubmit use C and never re-create B", () => {
    const dir = tempDir("cst-study-moved-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const argvLog = path.join(dir, "argv.jsonl");
    const config = path.join(dir, "standin.json");
    writeFileSync(config, JSON.stringify({ "sub-01_ses-02": "fail" }));
    const env = { XDG_CONFIG_HOME: path.join(dir, "xdg"), CSTTOOL_STANDIN_ARGV_LOG: argvLog, CSTTOOL_STANDIN_CONFIG: config };
    const b = path.join(dir, "B");
    const c = path.join(dir, "C");
    expect(runLocalStudy(bids, b, env).code).toBe(EXIT.SUBJECT_FAILED);
    writeFileSync(config, JSON.stringify({}));
    renameSync(b, c);

    const status = runCli(["status", "--out", c, "--json"], { env });
    expect(status.code, status.stderr).toBe(EXIT.OK);
    const st = JSON.parse(status.stdout);
    expect(st.out).toBe(c);
    expect(st.totals).toMatchObject({ total: 4, done: 3, failed: 1 });

    rmSync(path.join(c, "batch_summary.json"));
    const collected = runCli(["collect", "--out", c, "--json"], { env });
    expect(collected.code, collected.stderr).toBe(EXIT.OK);
    expect(readJson(path.join(c, "batch_summary.json")).counts).toMatchObject({ total: 4, success: 3, failed: 1 });
    expect(existsSync(b)).toBe(false);

    // run-one of a subject made pending, by the plan file inside C: runs in C.
    rmSync(path.join(c, "sub-02", "_done.json"));
    const one = runCli(["run-one", "--plan", path.join(c, ".cst-batch", "plan.jsonl"), "--index", String(indexOf(c, "sub-02"))], { env });
    expect(one.code, one.stderr).toBe(EXIT.OK);
    const done = readJson<{ csttool_argv: string[] }>(path.join(c, "sub-02", "_done.json"));
    expect(done.csttool_argv[done.csttool_argv.indexOf("--out") + 1]).toBe(path.join(c, "sub-02", "_work", "csttool"));
    const lastCall = standinCalls(argvLog).at(-1)!;
    expect(lastCall.argv.join(" ")).toContain("--subject-id 02");
    expect(lastCall.argv.every((x) => !x.startsWith(b + path.sep))).toBe(true);
    expect(readdirSync(path.join(c, ".cst-batch", "events")).map((f) => readFileSync(path.join(c, ".cst-batch", "events", f), "utf8")).join("")).toMatch(/"event":"finished".*"key":"sub-02"/);
    expect(existsSync(b)).toBe(false);

    // submit into C (local): reruns the failed subject there.
    const again = runLocalStudy(bids, c, env);
    expect(again.code, again.stderr).toBe(EXIT.OK);
    expect(existsSync(path.join(c, "sub-01", "ses-02", "_done.json"))).toBe(true);
    expect(existsSync(b)).toBe(false);

    // submit (Slurm, faked) and resubmit into C: records, scripts and logs in C.
    const bin = fakeSlurm(dir);
    const slurmEnv = { ...env, PATH: `${bin}:${process.env.PATH ?? ""}` };
    rmSync(path.join(c, "sub-03", "_done.json"));
    const submitted = runCli(["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", c, "--csttool", STANDIN, "--skip-disk-check", "--time", "1h", "--json"], { env: slurmEnv });
    expect(submitted.code, submitted.stderr).toBe(EXIT.OK);
    const sub = JSON.parse(submitted.stdout);
    expect(sub.kind).toBe("submitted");
    expect(sub.record.startsWith(path.join(c, ".cst-batch", "submissions") + path.sep)).toBe(true);
    const resub = runCli(["resubmit", "--out", c, "--no-profile", "--json"], { env: slurmEnv });
    expect(resub.code, resub.stderr).toBe(EXIT.OK);
    const rj = JSON.parse(resub.stdout);
    const records = readdirSync(path.join(c, ".cst-batch", "submissions")).filter((f) => f.endsWith(".json"));
    expect(records).toHaveLength(2);
    for (const f of records) {
      const rec = readJson<{ plan_path: string; shards: { script: string }[]; resources: { log_dir: string } }>(path.join(c, ".cst-batch", "submissions", f));
      expect(rec.plan_path.startsWith(c + path.sep)).toBe(true);
      expect(rec.resources.log_dir).toBe(path.join(c, "logs", "scheduler"));
      for (const s of rec.shards) expect(readFileSync(s.script, "utf8")).not.toContain(b + path.sep);
    }
    expect(JSON.stringify(rj)).toContain("sub-03");
    expect(existsSync(b)).toBe(false);
  }, 240_000);

  it("a moved study's DICOM subjects run where it is now, also one whose series is linked into _work", () => {
    const dir = tempDir("cst-study-dicom-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const argvLog = path.join(dir, "argv.jsonl");
    const env = { XDG_CONFIG_HOME: path.join(dir, "xdg"), CSTTOOL_STANDIN_ARGV_LOG: argvLog };
    // The demo's sub-03 is DICOM: once as a BIDS folder (csttool reads the folder), once through a
    // manifest that names its series (the series is linked into _work/dicom-series).
    const plain = path.join(dir, "B1");
    expect(runLocalStudy(bids, plain, env, ["--include", "sub-03"]).code).toBe(EXIT.OK);
    const input = readCurrentPlan(plain).tasks[0]!.input;
    if (input.kind !== "dicom") throw new Error("dicom expected");
    const manifest = path.join(dir, "study.json");
    writeFileSync(manifest, JSON.stringify({ subjects: [{ id: "sub-03", dicom: input.dicom_dir, series_uid: input.series.series_uid }] }));
    const linked = path.join(dir, "B2");
    const first = runCli(["submit", "--scheduler", "local", "--manifest", manifest, "--out", linked, "--csttool", STANDIN, "--skip-disk-check"], { env });
    expect(first.code, first.stderr).toBe(EXIT.OK);
    expect(linkedSeries(readCurrentPlan(linked).tasks[0]!)).toBe(true);

    for (const [from, to] of [[plain, path.join(dir, "C1")], [linked, path.join(dir, "C2")]] as const) {
      renameSync(from, to);
      rmSync(path.join(to, "sub-03", "_done.json"));
      const r = runCli(["run-one", "--plan", path.join(to, ".cst-batch", "plan.jsonl"), "--index", "0"], { env });
      expect(r.code, r.stderr).toBe(EXIT.OK);
      expect(existsSync(path.join(to, "sub-03", "_done.json"))).toBe(true);
      const call = standinCalls(argvLog).at(-1)!.argv;
      const dicom = call[call.indexOf("--dicom") + 1];
      expect(dicom).toBe(from === linked ? path.join(to, "sub-03", "_work", "dicom-series") : input.dicom_dir);
      expect(call[call.indexOf("--out") + 1]).toBe(path.join(to, "sub-03", "_work", "csttool"));
      expect(existsSync(from)).toBe(false);
    }
  }, 180_000);
});
