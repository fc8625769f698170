import { promises as fsp } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { probeLock } from "../../../src/lock/lock.js";
import { readTaskState } from "../../../src/state/task-state.js";
import { CLI, makeStudy, rewritePlan, type TestStudy } from "../../helpers/run-plan.js";
import { pidsWithEnv, runCli, sleep, startCli, waitFor } from "../../helpers/run-procs.js";

/** run-one through the built CLI with the stand-in csttool: files, exit codes and processes. */

beforeAll(async () => {
  await fsp.access(path.join(path.dirname(CLI), "../dist/cli/main.js")).catch(() => {
    throw new Error("dist/ is missing: run `npm run build` first");
  });
});

const run = (s: TestStudy, index: number, ...extra: string[]) => runCli(["run-one", "--plan", s.planFile, "--index", String(index), ...extra], s.env);

async function readJson<T = Record<string, unknown>>(file: string): Promise<T> {
  return JSON.parse(await fsp.readFile(file, "utf8")) as T;
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false,
  );
}

async function failedAttempts(dir: string): Promise<string[]> {
  return (await fsp.readdir(path.join(dir, "_failed_attempts")).catch(() => [] as string[])).sort();
}

async function walk(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(root, r)));
    else out.push(r);
  }
  return out.sort();
}

const MANAGED = /^(_lock|_work|_failed_attempts|_done\.json|_promoted\.json)/;

describe("success and promotion", () => {
  test("promotion flattens csttool's tree and writes _done.json last, listing every file", async () => {
    const s = await makeStudy([{ subject: "sub-001", session: "ses-01" }]);
    const r = await run(s, 0);
    expect(r.code).toBe(0);
    const dir = path.join(s.out, "sub-001", "ses-01");
    const done = await readJson<{ files: { path: string; size: number }[]; metrics_file: string; exit_code: number; config_hash: string; had_failed_attempts: boolean }>(path.join(dir, "_done.json"));
    // A first run that succeeded: no failed attempts (status then does not look for `_failed_attempts/`).
    expect(done.had_failed_attempts).toBe(false);
    const onDisk = (await walk(dir)).filter((p) => !MANAGED.test(p));
    expect(done.files.map((f) => f.path)).toEqual(onDisk);
    for (const f of done.files) expect((await fsp.stat(path.join(dir, f.path))).size).toBe(f.size);
    // Flattened: no sub-001/ses-01 level; csttool's top-level subject files are in the subject
    // folder, its study-level ones (dataset_description.json, participants.*) are not.
    expect(onDisk).toContain("reports/sub-001_ses-01_metrics.json");
    expect(onDisk).toContain("sub-001_pipeline_report.json");
    for (const studyLevel of ["dataset_description.json", "participants.tsv", "participants.json"]) expect(onDisk).not.toContain(studyLevel);
    expect(onDisk.some((p) => p.startsWith("sub-001/"))).toBe(false);
    expect(done.metrics_file).toBe("reports/sub-001_ses-01_metrics.json");
    expect(await exists(path.join(dir, "_work"))).toBe(false);
    const doneMtime = (await fsp.stat(path.join(dir, "_done.json"))).mtimeMs;
    for (const p of onDisk) expect((await fsp.stat(path.join(dir, p))).mtimeMs).toBeLessThanOrEqual(doneMtime);
  });

  test("resume skips a done subject with the same hash, reruns with --force and after a hash change", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    expect((await run(s, 0)).code).toBe(0);
    expect((await run(s, 0)).code).toBe(0);
    expect(await s.runCount()).toBe(1);
    expect((await run(s, 0, "--force")).code).toBe(0);
    expect(await s.runCount()).toBe(2);
    await rewritePlan(s, (p) => {
      p.tasks[0]!.config_hash = "hash-2";
    });
    expect((await run(s, 0)).code).toBe(0);
    expect(await s.runCount()).toBe(3);
    expect((await readJson(path.join(s.out, "sub-001", "_done.json"))).config_hash).toBe("hash-2");
  });

  test("old-layout metrics count as success", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    await s.setBehaviours({ "sub-001": "old-layout" });
    expect((await run(s, 0)).code).toBe(0);
    const done = await readJson(path.join(s.out, "sub-001", "_done.json"));
    expect(done.metrics_file).toBe("metrics/sub-001_bilateral_metrics.json");
  });

  test("--plan may name the output folder: its current plan (.cst-batch/plan.jsonl) is used", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    await fsp.copyFile(s.planFile, path.join(s.out, ".cst-batch", "plan.jsonl"));
    const r = await runCli(["run-one", "--plan", s.out, "--index", "0"], s.env);
    expect(r.code, r.stderr).toBe(0);
    expect(await exists(path.join(s.out, "sub-001", "_done.json"))).toBe(true);
    const missing = await runCli(["run-one", "--plan", path.join(s.root, "nowhere"), "--index", "0"], s.env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("plan not found");
  });

  test("--json prints the outcome", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    const r = await run(s, 0, "--json");
    const j = JSON.parse(r.stdout) as { outcome: string; exit_code: number };
    expect(j.outcome).toBe("success");
    expect(j.exit_code).toBe(0);
  });
});

describe("start-up path", () => {
  // bin/cst-batch.js runs run-one from dist/run-one.cjs through V8's code cache; the plain ES
  // modules (CST_BATCH_NO_BUNDLE=1) must do exactly the same.
  test("the bundled run-one writes its code cache and gives the same outcome as the plain modules", async () => {
    const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }]);
    const cache = path.join(s.root, "code-cache");
    const bundled = await runCli(["run-one", "--plan", s.planFile, "--index", "0", "--json"], { ...s.env, CST_BATCH_CODE_CACHE: cache });
    expect(bundled.code).toBe(0);
    const written = await fsp.readdir(cache);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^run-one\.cjs\.[0-9a-f]{16}\.v8cache$/);
    const plain = await runCli(["run-one", "--plan", s.planFile, "--index", "1", "--json"], { ...s.env, CST_BATCH_CODE_CACHE: cache, CST_BATCH_NO_BUNDLE: "1" });
    expect(plain.code).toBe(0);
    const strip = (j: Record<string, unknown>) => {
      const { record, key, subject, dir, log_file, index, ...rest } = j;
      void [key, subject, dir, log_file, index];
      return { ...rest, recordKeys: Object.keys(record as object).sort() };
    };
    expect(strip(JSON.parse(plain.stdout) as Record<string, unknown>)).toEqual(strip(JSON.parse(bundled.stdout) as Record<string, unknown>));
    expect(await fsp.readdir(cache)).toEqual(written);
    // Usage errors and help come out the same way from the bundle.
    const bad = await runCli(["run-one", "--plan", s.planFile, "--index", "x"], { ...s.env, CST_BATCH_CODE_CACHE: cache });
    const badPlain = await runCli(["run-one", "--plan", s.planFile, "--index", "x"], { ...s.env, CST_BATCH_NO_BUNDLE: "1" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(badPlain.stderr);
    const help = await runCli(["run-one", "--help"], { ...s.env, CST_BATCH_CODE_CACHE: cache });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--submission <file>");
  });
});

describe("failures", () => {
  test("a failing pipeline moves _work to _failed_attempts/..._PIPELINE_FAILED with its record and an error log", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    await s.setBehaviours({ "001": "fail" });
    const r = await run(s, 0);
    expect(r.code).toBe(4);
    const dir = path.join(s.out, "sub-001");
    const attempts = await failedAttempts(dir);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z_PIPELINE_FAILED$/);
    const rec = await readJson<{ category: string; exit_code: number; log_tail: string[]; next_step: string }>(path.join(dir, "_failed_attempts", attempts[0]!, "attempt.json"));
    expect(rec.category).toBe("PIPELINE_FAILED");
    expect(rec.exit_code).toBe(1);
    expect(rec.log_tail.some((l) => l.includes("ValueError"))).toBe(true);
    expect(await exists(path.join(dir, "_failed_attempts", attempts[0]!, "csttool.log"))).toBe(true);
    expect(await exists(path.join(s.out, "logs", "sub-001_error.log"))).toBe(true);
    expect(await exists(path.join(dir, "_work"))).toBe(false);
    expect(await exists(path.join(dir, "_done.json"))).toBe(false);
    // A later success removes the stale error log, and its record says the subject had failed attempts.
    await s.setBehaviours({});
    expect((await run(s, 0)).code).toBe(0);
    expect(await readJson(path.join(dir, "_done.json"))).toMatchObject({ had_failed_attempts: true });
    expect(await exists(path.join(s.out, "logs", "sub-001_error.log"))).toBe(false);
  });

  test("an earlier success survives a later failure", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    expect((await run(s, 0)).code).toBe(0);
    const dir = path.join(s.out, "sub-001");
    const before = await fsp.readFile(path.join(dir, "_done.json"), "utf8");
    const filesBefore = await walk(dir);
    await s.setBehaviours({ "sub-001": "fail" });
    expect((await run(s, 0, "--force")).code).toBe(4);
    // The record is the same, but for saying that the subject now has a failed attempt (status looks for them by it).
    const after = await fsp.readFile(path.join(dir, "_done.json"), "utf8");
    expect(JSON.parse(before)).toMatchObject({ had_failed_attempts: false });
    expect(JSON.parse(after)).toEqual({ ...JSON.parse(before), had_failed_attempts: true });
    const filesAfter = (await walk(dir)).filter((p) => !p.startsWith("_failed_attempts/"));
    expect(filesAfter).toEqual(filesBefore);
    // What status reads of the subject: done, with the failed attempt (looked for because of the flag).
    const state = await readTaskState(s.out, s.plan.tasks[0]!);
    expect(state).toMatchObject({ status: "success", done: "current", attempts: 2 });
    expect(state.failedAttempts).toHaveLength(1);
  });

  test("exit 0 with nothing written is SYSTEM (csttool's environment check); SIGKILL from outside is OUT_OF_MEMORY; a missing csttool is SYSTEM", async () => {
    const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }, { subject: "sub-003" }]);
    await s.setBehaviours({ "sub-001": "no-output", "sub-002": "oom" });
    expect((await run(s, 0)).code).toBe(6);
    expect((await failedAttempts(path.join(s.out, "sub-001")))[0]).toMatch(/_SYSTEM$/);
    expect((await run(s, 1)).code).toBe(5);
    expect((await failedAttempts(path.join(s.out, "sub-002")))[0]).toMatch(/_OUT_OF_MEMORY$/);
    // csttool's argv comes from the plan's executable (no per-task argv): sub-003 runs a missing one.
    await rewritePlan(s, (p) => {
      p.csttool.executable = path.join(s.root, "no-such-csttool");
    });
    expect((await run(s, 2)).code).toBe(6);
    expect((await failedAttempts(path.join(s.out, "sub-003")))[0]).toMatch(/_SYSTEM$/);
  });

  test("a missing input is INPUT_MISSING and a changed input is VALIDATION; csttool does not run", async () => {
    const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }]);
    const t0 = s.plan.tasks[0]!;
    const t1 = s.plan.tasks[1]!;
    if (t0.input.kind !== "nifti" || t1.input.kind !== "nifti") throw new Error("nifti expected");
    await fsp.rm(t0.input.bval);
    await fsp.appendFile(t1.input.nifti, "more bytes");
    expect((await run(s, 0)).code).toBe(4);
    expect((await run(s, 1)).code).toBe(4);
    expect(await s.runCount()).toBe(0);
    expect((await failedAttempts(path.join(s.out, "sub-001")))[0]).toMatch(/_INPUT_MISSING$/);
    expect((await failedAttempts(path.join(s.out, "sub-002")))[0]).toMatch(/_VALIDATION$/);
  });

  test("a corrupt _done.json never counts as done and is kept aside", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    const dir = path.join(s.out, "sub-001");
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, "_done.json"), "{ not json");
    expect((await run(s, 0)).code).toBe(0);
    expect(await s.runCount()).toBe(1);
    const names = await fsp.readdir(dir);
    expect(names.some((n) => n.startsWith("_done.json.corrupt-"))).toBe(true);
  });
});

describe("locking", () => {
  test("two processes on one index: csttool runs once, the other exits 75", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    await s.setBehaviours({ "sub-001": "sleep:2" });
    const a = startCli(["run-one", "--plan", s.planFile, "--index", "0"], s.env);
    await waitFor(async () => (await s.runCount()) === 1);
    const b = await run(s, 0);
    expect(b.code).toBe(75);
    expect((await a.done).code).toBe(0);
    expect(await s.runCount()).toBe(1);
  });

  test("SIGKILL of run-one: the orphaned csttool keeps the lock, the rerun reaps it, records KILLED and succeeds", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    await s.setBehaviours({ "sub-001": "hang" });
    const a = startCli(["run-one", "--plan", s.planFile, "--index", "0"], s.env);
    await waitFor(async () => (await s.runCount()) === 1);
    await sleep(200);
    a.child.kill("SIGKILL");
    await a.done;
    const orphans = await pidsWithEnv("CST_BATCH_RUN_TOKEN=");
    const ours = [];
    for (const pid of orphans) if ((await pidsWithEnv(s.argvLog)).includes(pid)) ours.push(pid);
    expect(ours.length).toBeGreaterThan(0);
    expect((await probeLock(path.join(s.out, "sub-001", "_lock"))).kind).toBe("held");
    await s.setBehaviours({});
    const r = await run(s, 0);
    expect(r.code).toBe(0);
    expect(await pidsWithEnv(s.argvLog)).toEqual([]);
    const attempts = await failedAttempts(path.join(s.out, "sub-001"));
    expect(attempts).toHaveLength(1);
    const rec = await readJson(path.join(s.out, "sub-001", "_failed_attempts", attempts[0]!, "attempt.json"));
    expect(rec.category).toBe("KILLED");
    expect(rec.recorded_by).toBe("recovery");
  });
});

describe("timeouts and signals", () => {
  test("a hung pipeline that ignores SIGTERM is killed within timeout + grace, with no survivors", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    await s.setBehaviours({ "sub-001": "ignore-term" });
    const t0 = Date.now();
    const r = await run(s, 0, "--timeout-minutes", "0.02", "--grace-seconds", "1");
    const elapsed = Date.now() - t0;
    expect(r.code).toBe(5);
    expect(elapsed).toBeLessThan(1200 + 1000 + 3000);
    expect((await failedAttempts(path.join(s.out, "sub-001")))[0]).toMatch(/_TIMEOUT$/);
    expect(await pidsWithEnv(s.argvLog)).toEqual([]);
  });

  test("a grandchild that ignores SIGTERM does not survive", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    await s.setBehaviours({ "sub-001": "grandchild" });
    const r = await run(s, 0, "--timeout-minutes", "0.02", "--grace-seconds", "1");
    expect(r.code).toBe(5);
    expect(await pidsWithEnv(s.argvLog)).toEqual([]);
  });

  test.each([
    ["SIGTERM", "CANCELLED"],
    ["SIGUSR1", "TIMEOUT"],
  ] as const)("%s to run-one records %s and leaves no process", async (signal, category) => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    await s.setBehaviours({ "sub-001": "ignore-term" });
    const a = startCli(["run-one", "--plan", s.planFile, "--index", "0", "--grace-seconds", "1"], s.env);
    await waitFor(async () => (await s.runCount()) === 1);
    await sleep(300);
    a.child.kill(signal);
    const r = await a.done;
    expect(r.code).toBe(5);
    const attempts = await failedAttempts(path.join(s.out, "sub-001"));
    expect(attempts[0]).toMatch(new RegExp(`_${category}$`));
    expect(await pidsWithEnv(s.argvLog)).toEqual([]);
  });

  /** run-one over a csttool that hangs, once csttool's process group is in the lock owner. */
  async function startHangingRun() {
    const s = await makeStudy([{ subject: "sub-001" }]);
    await s.setBehaviours({ "sub-001": "hang" });
    const a = startCli(["run-one", "--plan", s.planFile, "--index", "0", "--grace-seconds", "1"], s.env);
    await waitFor(async () => (await s.runCount()) === 1);
    const lockFile = path.join(s.out, "sub-001", "_lock");
    await waitFor(async () => typeof (await readJson(lockFile).catch(() => ({}) as Record<string, unknown>)).child_pgid === "number");
    const pgid = (await readJson<{ child_pgid: number }>(lockFile)).child_pgid;
    await sleep(200);
    return { s, a, pgid };
  }

  // scancel signals every process of the job at once; csttool may die of it before run-one
  // handles its own copy. That is still a cancellation, not a kill from outside.
  test.each([
    ["SIGTERM", "CANCELLED"],
    ["SIGUSR1", "TIMEOUT"],
  ] as const)("%s to csttool's group moments before run-one records %s", async (signal, category) => {
    const { s, a, pgid } = await startHangingRun();
    process.kill(-pgid, "SIGTERM");
    await sleep(40);
    a.child.kill(signal);
    const r = await a.done;
    expect(r.code).toBe(5);
    const attempts = await failedAttempts(path.join(s.out, "sub-001"));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatch(new RegExp(`_${category}$`));
  });

  test("SIGTERM to csttool alone (no job stop) is still a kill from outside", async () => {
    const { s, a, pgid } = await startHangingRun();
    process.kill(-pgid, "SIGTERM");
    const r = await a.done;
    expect(r.code).toBe(5);
    const attempts = await failedAttempts(path.join(s.out, "sub-001"));
    expect(attempts[0]).toMatch(/_KILLED$/);
  });

  test("the category is recorded before waiting: a SIGKILL during the grace still leaves CANCELLED", async () => {
    const s = await makeStudy([{ subject: "sub-001" }], { graceSeconds: 30 });
    await s.setBehaviours({ "sub-001": "ignore-term" });
    const env = { ...s.env, CST_BATCH_SIGNAL_GRACE_SECONDS: "30" };
    const a = startCli(["run-one", "--plan", s.planFile, "--index", "0"], env);
    await waitFor(async () => (await s.runCount()) === 1);
    await sleep(300);
    a.child.kill("SIGTERM");
    const attemptFile = path.join(s.out, "sub-001", "_work", "attempt.json");
    await waitFor(async () => (await readJson(attemptFile).catch(() => ({}) as Record<string, unknown>)).pending_category === "CANCELLED", 5000);
    a.child.kill("SIGKILL");
    await a.done;
    await s.setBehaviours({});
    expect((await run(s, 0)).code).toBe(0);
    const attempts = await failedAttempts(path.join(s.out, "sub-001"));
    expect(attempts[0]).toMatch(/_CANCELLED$/);
    expect(await pidsWithEnv(s.argvLog)).toEqual([]);
  });
});

describe("recovery", () => {
  test("a leftover _work is filed under _failed_attempts as KILLED", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    const work = path.join(s.out, "sub-001", "_work");
    await fsp.mkdir(path.join(work, "csttool"), { recursive: true });
    await fsp.writeFile(path.join(work, "csttool", "partial.nii.gz"), "x");
    expect((await run(s, 0)).code).toBe(0);
    const attempts = await failedAttempts(path.join(s.out, "sub-001"));
    expect(attempts[0]).toMatch(/_KILLED$/);
    expect(await exists(path.join(s.out, "sub-001", "_failed_attempts", attempts[0]!, "csttool", "partial.nii.gz"))).toBe(true);
  });

  test("an interrupted promotion journal is rolled forward before anything else", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    expect((await run(s, 0)).code).toBe(0);
    const dir = path.join(s.out, "sub-001");
    const done = await readJson<Record<string, unknown> & { files: { path: string; size: number }[] }>(path.join(dir, "_done.json"));
    // Simulate a crash after "previous _done.json moved away" and one entry promoted.
    const work = path.join(dir, "_work");
    await fsp.mkdir(path.join(work, "staged", "reports"), { recursive: true });
    await fsp.mkdir(path.join(work, "previous"), { recursive: true });
    await fsp.rename(path.join(dir, "_done.json"), path.join(work, "previous", "_done.json"));
    await fsp.writeFile(path.join(work, "staged", "extra.txt"), "new");
    const entries = [...new Set([...done.files.map((f) => f.path.split("/")[0]!), "extra.txt"])].sort();
    const newDone = { ...done, files: [...done.files, { path: "extra.txt", size: 3 }], finished_at: new Date().toISOString() };
    await fsp.writeFile(path.join(work, "promote.json"), JSON.stringify({ schema_version: 1, kind: "cst-batch-promote", done: newDone, entries }));
    const r = await run(s, 0);
    expect(r.code).toBe(0);
    expect(await s.runCount()).toBe(1);
    expect(await fsp.readFile(path.join(dir, "extra.txt"), "utf8")).toBe("new");
    expect((await readJson(path.join(dir, "_done.json"))).finished_at).toBe(newDone.finished_at);
    expect(await exists(work)).toBe(false);
  });
});

describe("submission chunks", () => {
  test("--submission/--chunk runs the chunk's tasks in order; the exit code is the worst", async () => {
    const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }, { subject: "sub-003" }]);
    await s.setBehaviours({ "sub-002": "fail" });
    const subFile = path.join(s.out, ".cst-batch", "submissions", "s1.json");
    await fsp.mkdir(path.dirname(subFile), { recursive: true });
    await fsp.writeFile(
      subFile,
      JSON.stringify({
        schema_version: 1,
        kind: "cst-batch-submission",
        submission_id: "s1",
        created_at: new Date().toISOString(),
        scheduler: "local",
        plan_id: "p-test",
        plan_path: s.planFile,
        command_line: [],
        chunks: [[0, 1], [2]],
        shards: [],
        collect: null,
        resources: {},
      }),
    );
    const r = await runCli(["run-one", "--submission", subFile, "--chunk", "0", "--json"], s.env);
    expect(r.code).toBe(4);
    const j = JSON.parse(r.stdout) as { tasks: { outcome: string }[] };
    expect(j.tasks.map((t) => t.outcome)).toEqual(["success", "failed"]);
    expect(await exists(path.join(s.out, "sub-003"))).toBe(false);
  });
});
