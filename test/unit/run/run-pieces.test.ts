import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { findMetricsFile, isManagedName, listFiles, removeTrash, removeWorkDir, stageOutput } from "../../../src/run/promote.js";
import { parseProcStat } from "../../../src/processes/procs.js";
import { csttoolArgv } from "../../../src/run/csttool-argv.js";
import { exitCodeFor, worstExitCode, type RunOneOutcome } from "../../../src/run/run-one.js";
import type { AttemptRecord, FailureCategory } from "../../../src/schemas/records.js";
import { abortCategory } from "../../../src/run/supervise.js";
import { detectJobId, failedAttemptDir, fsTimestamp } from "../../../src/run/attempt.js";

async function write(file: string, text = "x"): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, text);
}

describe("stageOutput", () => {
  test("flattens sub-X/ses-Y, keeps csttool's top-level subject files (not its study-level ones) and suffixes clashes", async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), "cst-stage-"));
    const w = path.join(root, "csttool");
    await write(path.join(w, "dataset_description.json"));
    await write(path.join(w, "sub-01_pipeline_report.json"));
    await write(path.join(w, "sub-01", "ses-a", "dwi", "x.nii.gz"));
    await write(path.join(w, "sub-01", "ses-a", "reports", "sub-01_ses-a_metrics.json"));
    await write(path.join(w, "sub-01", "ses-a", "dataset_description.json"), "inner");
    await write(path.join(w, "sub-01", "ses-a", "_done.json"), "csttool's own");
    await write(path.join(w, "sub-01", "extra.txt"));
    await stageOutput(w, path.join(root, "staged"), "sub-01", "ses-a");
    const files = (await listFiles(path.join(root, "staged"))).map((f) => f.path);
    expect(files).toEqual([
      "_done_2.json",
      "dataset_description.json",
      "dwi/x.nii.gz",
      "extra.txt",
      "reports/sub-01_ses-a_metrics.json",
      "sub-01_pipeline_report.json",
    ]);
    expect(await fsp.readFile(path.join(root, "staged", "dataset_description.json"), "utf8")).toBe("inner");
  });
});

describe("stageOutput, whole-folder rename", () => {
  test("the session folder becomes staged/ in one rename; the rest is merged, csttool's study-level root files stay behind in _work", async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), "cst-stage-"));
    const w = path.join(root, "csttool");
    await write(path.join(w, "dataset_description.json"), "top");
    await write(path.join(w, "sub-01", "ses-a", "reports", "sub-01_ses-a_metrics.json"));
    await write(path.join(w, "sub-01", "ses-a", "dataset_description.json"), "inner");
    await write(path.join(w, "sub-01", "extra.txt"));
    for (const f of ["participants.tsv", "participants.json", "participants.tsv.lock"]) await write(path.join(w, f));
    await stageOutput(w, path.join(root, "staged"), "sub-01", "ses-a");
    expect((await listFiles(path.join(root, "staged"))).map((f) => f.path)).toEqual([
      "dataset_description.json",
      "extra.txt",
      "reports/sub-01_ses-a_metrics.json",
    ]);
    expect(await fsp.readFile(path.join(root, "staged", "dataset_description.json"), "utf8")).toBe("inner");
    expect((await fsp.readdir(w)).sort()).toEqual(["dataset_description.json", "participants.json", "participants.tsv", "participants.tsv.lock"]);
  });

  test("a session folder that is a symbolic link is not renamed whole: staged/ is a real folder", async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), "cst-stage-"));
    const w = path.join(root, "csttool");
    const elsewhere = path.join(root, "elsewhere");
    await write(path.join(elsewhere, "reports", "sub-01_metrics.json"));
    await fsp.mkdir(path.join(w), { recursive: true });
    await fsp.symlink(elsewhere, path.join(w, "sub-01"));
    await stageOutput(w, path.join(root, "staged"), "sub-01", null);
    expect((await fsp.lstat(path.join(root, "staged"))).isDirectory()).toBe(true);
    expect((await fsp.lstat(path.join(root, "staged"))).isSymbolicLink()).toBe(false);
  });
});

test("findMetricsFile prefers the new layout, then the old one", () => {
  expect(findMetricsFile([{ path: "reports/a_metrics.csv" }, { path: "reports/sub-1_metrics.json" }], "sub-1")).toBe("reports/sub-1_metrics.json");
  expect(findMetricsFile([{ path: "metrics/sub-1_bilateral_metrics.json" }], "sub-1")).toBe("metrics/sub-1_bilateral_metrics.json");
  expect(findMetricsFile([{ path: "reports/x.html" }], "sub-1")).toBeNull();
});

test("managed names are never treated as results", () => {
  for (const n of ["_lock", "_lock.lease", "_work", "_work.done-ab12", "_failed_attempts", "_done.json", "_done.json.corrupt-2026"]) {
    expect(isManagedName(n)).toBe(true);
  }
  expect(isManagedName("dwi")).toBe(false);
});

test("parseProcStat copes with spaces and parentheses in comm", () => {
  const text = "1234 (my (weird) proc) S 1 1230 1230 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0";
  expect(parseProcStat(1234, text)).toEqual({ pid: 1234, ppid: 1, pgid: 1230, state: "S", startTicks: 98765 });
});

test("csttoolArgv: --out into _work/csttool and, only for a linked series, --dicom at _work/dicom-series of the study where it is now", () => {
  const options = { fa_thr: 0.2 };
  const dicom = { kind: "dicom" as const, dicom_dir: "/data/dcm", series: { series_uid: "1.2", series_number: null, series_description: null, file_count: 1 }, identity: { file_count: 1, total_size: 1, newest_mtime_ms: 1 } };
  expect(csttoolArgv("c", { subject: "sub-1", session: null, options, input: { ...dicom, series_uid: "1.2" } }, "/new/sub-1")).toEqual([
    "c", "run", "--dicom", "/new/sub-1/_work/dicom-series", "--out", "/new/sub-1/_work/csttool", "--subject-id", "1", "--fa-thr", "0.2",
  ]);
  expect(csttoolArgv("c", { subject: "sub-1", session: "ses-2", options: {}, input: { ...dicom, series_uid: null } }, "/s/sub-1/ses-2")).toEqual([
    "c", "run", "--dicom", "/data/dcm", "--out", "/s/sub-1/ses-2/_work/csttool", "--subject-id", "1", "--session-id", "2",
  ]);
  const nifti = { kind: "nifti" as const, nifti: "/d/a.nii.gz", bval: "/d/a.bval", bvec: "/d/a.bvec", json: null, entities: {}, identity: [] };
  expect(csttoolArgv("c", { subject: "sub-1", session: null, options: {}, input: nifti }, "/w/sub-1")).toEqual(["c", "run", "--nifti", "/d/a.nii.gz", "--out", "/w/sub-1/_work/csttool", "--subject-id", "1"]);
});

test("exit codes: success 0, subject failure 4, killed 5, system 6, busy 75; a chunk reports the worst", () => {
  const task = { index: 0, key: "k", subject: "sub-1", session: null, dir: "", logFile: "" };
  const failed = (category: FailureCategory): RunOneOutcome => ({ kind: "failed", task, category, record: { category } as AttemptRecord, attemptDir: null });
  expect(exitCodeFor(failed("PIPELINE_FAILED"))).toBe(4);
  expect(exitCodeFor(failed("VALIDATION"))).toBe(4);
  expect(exitCodeFor(failed("TIMEOUT"))).toBe(5);
  expect(exitCodeFor(failed("OUT_OF_MEMORY"))).toBe(5);
  expect(exitCodeFor(failed("SYSTEM"))).toBe(6);
  expect(exitCodeFor({ kind: "busy", owner: null, task })).toBe(75);
  expect(worstExitCode([0, 75, 4])).toBe(4);
  expect(worstExitCode([0, 6, 5])).toBe(6);
  expect(worstExitCode([])).toBe(0);
});

test("abort reasons carry the category", () => {
  const c = new AbortController();
  c.abort({ category: "TIMEOUT", signal: "SIGUSR1" });
  expect(abortCategory(c.signal)).toBe("TIMEOUT");
  const d = new AbortController();
  d.abort();
  expect(abortCategory(d.signal)).toBe("CANCELLED");
});

test("job id from Slurm array, Slurm job or PBS", () => {
  expect(detectJobId({ SLURM_ARRAY_JOB_ID: "10", SLURM_ARRAY_TASK_ID: "3", SLURM_JOB_ID: "13" })).toBe("10_3");
  expect(detectJobId({ SLURM_JOB_ID: "13" })).toBe("13");
  expect(detectJobId({ PBS_JOBID: "7[2].pbs" })).toBe("7[2].pbs");
  expect(detectJobId({})).toBeNull();
  expect(fsTimestamp(new Date("2026-01-02T03:04:05.678Z"))).toBe("2026-01-02T03-04-05-678Z");
});

describe("removing the work folder", () => {
  test("removeWorkDir deletes _work with its nested folders; removeTrash clears older leftovers and lists the rest", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "cst-trash-"));
    await write(path.join(dir, "_work", "attempt.json"));
    await write(path.join(dir, "_work", "csttool", "sub-01", "ses-a", "x.txt"));
    await fsp.mkdir(path.join(dir, "_work", "staged", "empty"), { recursive: true });
    await write(path.join(dir, "_work.done-0001", "left", "y.txt"));
    await write(path.join(dir, "_done.json"));
    await removeWorkDir(dir);
    expect((await fsp.readdir(dir)).sort()).toEqual(["_done.json", "_work.done-0001"]);
    expect([...(await removeTrash(dir))]).toEqual(["_done.json"]);
    expect(await fsp.readdir(dir)).toEqual(["_done.json"]);
    await removeWorkDir(dir); // no _work: nothing to do
  });

  test("symbolic links inside (or as) the work folder are removed, never followed", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "cst-trash-"));
    const elsewhere = path.join(dir, "elsewhere");
    await write(path.join(elsewhere, "keep.txt"), "precious");
    await write(path.join(dir, "sub", "_work", "attempt.json"));
    await fsp.symlink(elsewhere, path.join(dir, "sub", "_work", "link-to-dir"));
    await removeWorkDir(path.join(dir, "sub"));
    expect(await fsp.readdir(path.join(dir, "sub"))).toEqual([]);
    await fsp.symlink(elsewhere, path.join(dir, "sub", "_work"));
    await removeWorkDir(path.join(dir, "sub"));
    await fsp.symlink(elsewhere, path.join(dir, "sub", "_work.done-0002"));
    await removeTrash(path.join(dir, "sub"));
    expect(await fsp.readdir(path.join(dir, "sub"))).toEqual([]);
    expect(await fsp.readFile(path.join(elsewhere, "keep.txt"), "utf8")).toBe("precious");
  });
});

describe("listProcesses between scans (kept /proc/<pid>/stat descriptors)", () => {
  test("a process that ended drops out, a new one appears, each with its own start and group", async () => {
    const { spawn } = await import("node:child_process");
    const { listProcesses } = await import("../../../src/processes/procs.js");
    const start = (): import("node:child_process").ChildProcess => spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
    const gone = (c: import("node:child_process").ChildProcess): Promise<void> => new Promise((r) => c.once("exit", () => r()));
    const a = start();
    const first = (await listProcesses()) ?? [];
    const pa = first.find((p) => p.pid === a.pid);
    expect(pa?.pgid).toBe(a.pid);
    a.kill("SIGKILL");
    await gone(a);
    const b = start();
    const second = (await listProcesses()) ?? [];
    expect(second.some((p) => p.pid === a.pid && p.startTicks === pa?.startTicks)).toBe(false);
    expect(second.find((p) => p.pid === b.pid)?.pgid).toBe(b.pid);
    // Unchanged processes read the same through their kept descriptor.
    const self1 = first.find((p) => p.pid === process.pid);
    const self2 = second.find((p) => p.pid === process.pid);
    expect(self2).toEqual(self1 && { ...self1, state: self2?.state });
    b.kill("SIGKILL");
    await gone(b);
  });
});

describe("process start times", () => {
  test("boot time agrees with /proc/stat's btime, and this process's start with its uptime", async () => {
    const { processStartMs, readBootTimeMs } = await import("../../../src/processes/procs.js");
    const btime = Number(/^btime (\d+)$/m.exec(await fsp.readFile("/proc/stat", "utf8"))?.[1]) * 1000;
    const boot = readBootTimeMs();
    expect(boot).not.toBeNull();
    // btime is whole seconds (truncated); /proc/uptime has 10 ms steps.
    expect(Math.abs((boot as number) - btime)).toBeLessThan(1500);
    const started = await processStartMs(process.pid);
    expect(started).not.toBeNull();
    expect(Math.abs((started as number) - (Date.now() - process.uptime() * 1000))).toBeLessThan(1500);
  });
});

describe("a new failed attempt of a done subject", () => {
  test("turns the done record's had_failed_attempts false into true before its folder exists; any other record is left as it was", async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), "cst-failed-dir-"));
    const subject = path.join(root, "sub-01");
    await fsp.mkdir(subject, { recursive: true });
    const done = path.join(subject, "_done.json");
    await fsp.writeFile(done, JSON.stringify({ kind: "cst-batch-done", had_failed_attempts: false, files: [] }));
    const target = await failedAttemptDir(root, subject, "PIPELINE_FAILED");
    expect(JSON.parse(await fsp.readFile(done, "utf8"))).toEqual({ kind: "cst-batch-done", had_failed_attempts: true, files: [] });
    expect(path.dirname(target.dir)).toBe(path.join(subject, "_failed_attempts"));

    // An older record (no field) and one that already says true: not rewritten.
    for (const text of [JSON.stringify({ kind: "cst-batch-done", files: [] }), JSON.stringify({ kind: "cst-batch-done", had_failed_attempts: true })]) {
      await fsp.writeFile(done, text);
      await failedAttemptDir(root, subject, "TIMEOUT");
      expect(await fsp.readFile(done, "utf8")).toBe(text);
    }
    // A link at _done.json is never followed (nor written through).
    const elsewhere = path.join(root, "elsewhere.json");
    await fsp.writeFile(elsewhere, JSON.stringify({ had_failed_attempts: false }));
    await fsp.rm(done);
    await fsp.symlink(elsewhere, done);
    await failedAttemptDir(root, subject, "TIMEOUT");
    expect(JSON.parse(await fsp.readFile(elsewhere, "utf8"))).toEqual({ had_failed_attempts: false });
    expect((await fsp.lstat(done)).isSymbolicLink()).toBe(true);
  });
});
