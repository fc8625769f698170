import { describe, expect, it } from "vitest";
import { readPlanFile } from "../helpers/plan-file.js";
import { execFileSync } from "node:child_process";
import { existsSync, promises as fsp, readdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { EXIT } from "../../src/errors.js";
import { makeStudy, rewritePlan, type TestStudy } from "../helpers/run-plan.js";
import { runCli as runCliEnv } from "../helpers/run-procs.js";
import { makeDemoBids, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";
import { checkDone, diffTrees, hasStackTrace, snapshotTree } from "../helpers/reliability-fs.js";
import { reportFamily, Tally } from "../helpers/reliability-results.js";

/** Faults: disk full, corrupt state files, inputs changing after the plan, scheduler failures. */

const runOne = (study: TestStudy, extra: string[] = [], env: NodeJS.ProcessEnv = study.env) =>
  runCliEnv(["run-one", "--plan", study.planFile, "--index", "0", ...extra], env);

/** A subject folder's results and done record, for "the earlier result is intact". */
const resultSnapshot = (dir: string) =>
  snapshotTree(dir, (rel) => /^(_lock|_work|_failed_attempts|_done\.json\.corrupt-)/.test(rel));

function mountTmpfs(dir: string, size: string): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return null;
  } catch (e) {
    return `cannot mount a tmpfs (${(e as Error).message.split("\n")[0]}); run as root to include the disk-full family`;
  }
}

describe("reliability: faults", () => {
  it("disk-full: clear SYSTEM error, earlier result intact, nothing half-promoted, next run works once space is back", async (ctx) => {
    const study = await makeStudy([{ subject: "sub-01" }], { graceSeconds: 1 });
    const planText = await fsp.readFile(study.planFile, "utf8");
    const why = mountTmpfs(study.out, "2m");
    if (why) {
      console.log(`[reliability] disk-full skipped: ${why}`);
      ctx.skip();
      return;
    }
    const tally = new Tally("disk-full", "clean");
    const taskDir = path.join(study.out, "sub-01");
    try {
      await fsp.mkdir(path.dirname(study.planFile), { recursive: true });
      await fsp.writeFile(study.planFile, planText);
      const first = await runOne(study);
      expect(first.code).toBe(EXIT.OK);
      await fsp.copyFile(study.planFile, path.join(study.out, ".cst-batch", "plan.jsonl"));
      const good = await resultSnapshot(taskDir);

      const expectCleanSystem = async (label: string, r: { code: number | null; stderr: string }): Promise<void> => {
        await tally.run(label, async () => {
          if (r.code !== EXIT.SYSTEM) throw new Error(`exit ${r.code}, expected ${EXIT.SYSTEM}: ${r.stderr}`);
          if (!/no space|disk is full|filesystem is full|ENOSPC/i.test(r.stderr)) throw new Error(`message does not say the disk is full: ${r.stderr}`);
          if (hasStackTrace(r.stderr)) throw new Error("stack trace in stderr");
          const diff = diffTrees(good, await resultSnapshot(taskDir));
          if (diff.length) throw new Error(`earlier result changed: ${diff.slice(0, 5).join(", ")}`);
          const done = await checkDone(taskDir);
          if (done.kind !== "ok" || done.record!.config_hash !== "hash-1") throw new Error("the earlier _done.json is not intact");
          const tmp = (await fsp.readdir(path.join(taskDir, "_work")).catch(() => [] as string[])).filter((n) => n.endsWith(".tmp"));
          if (tmp.length) throw new Error(`temp files left: ${tmp.join(", ")}`);
        });
      };

      // 1. csttool fills the disk while writing its output.
      await rewritePlan(study, (p) => {
        for (const t of p.tasks) t.config_hash = "hash-2";
      });
      await study.setBehaviours({ "sub-01": "big:4" });
      await expectCleanSystem("csttool hits ENOSPC", await runOne(study));

      // 2. The disk is already full when run-one starts (it must recover the earlier attempt first).
      execFileSync("sh", ["-c", `dd if=/dev/zero of='${study.out}/filler' bs=16k 2>/dev/null; true`]);
      await study.setBehaviours({ "sub-01": "succeed" });
      await expectCleanSystem("disk full before the run", await runOne(study));

      // 3. collect on a full disk: a clear error or a clean success, never a half-written report.
      await tally.run("collect on a full disk", async () => {
        const r = runCli(["collect", "--out", study.out]);
        if (hasStackTrace(r.stderr)) throw new Error("stack trace");
        if (r.code !== EXIT.OK && r.code !== EXIT.SYSTEM) throw new Error(`collect exited ${r.code}: ${r.stderr}`);
        for (const f of ["batch_summary.json"]) {
          const file = path.join(study.out, f);
          if (existsSync(file)) JSON.parse(await fsp.readFile(file, "utf8"));
        }
      });

      // 4. Space is back: the next run recovers and completes.
      await fsp.rm(path.join(study.out, "filler"));
      execFileSync("mount", ["-o", "remount,size=64m", study.out]);
      await tally.run("next run once space is back", async () => {
        const r = await runOne(study);
        if (r.code !== EXIT.OK) throw new Error(`exit ${r.code}: ${r.stderr}`);
        const done = await checkDone(taskDir);
        if (done.kind !== "ok" || done.record!.config_hash !== "hash-2") throw new Error(`not done with the new config: ${done.problems.join("; ")}`);
      });
    } finally {
      execFileSync("umount", ["-l", study.out], { stdio: "pipe" });
      await fsp.rm(study.root, { recursive: true, force: true });
    }
    reportFamily(ctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 300_000);

  it("corrupt-state: damaged records and plans are reported by path, never crash, and a corrupt _done.json never counts as done", async (ctx) => {
    const tally = new Tally("corrupt-state", "reported cleanly");
    const doneCases: Record<string, string> = {
      "truncated _done.json": '{"schema_version": 1, "kind": "cst-batch-done", "subj',
      "garbage _done.json": "\u0000\u00ff\u0013garbage\n",
      "empty _done.json": "",
      "_done.json of a newer schema": JSON.stringify({ schema_version: 99, kind: "cst-batch-done" }),
      "_done.json of the wrong shape": JSON.stringify({ schema_version: 1, kind: "cst-batch-done", files: "all" }),
      "_done.json that is an array": "[]",
    };
    for (const [label, text] of Object.entries(doneCases)) {
      await tally.run(label, async () => {
        const study = await makeStudy([{ subject: "sub-01" }]);
        try {
          const dir = path.join(study.out, "sub-01");
          await fsp.mkdir(dir, { recursive: true });
          await fsp.writeFile(path.join(dir, "_done.json"), text);
          const r = await runOne(study);
          if (r.code !== EXIT.OK) throw new Error(`run-one exited ${r.code}: ${r.stderr}`);
          if ((await study.runCount()) !== 1) throw new Error("csttool did not run: the corrupt _done.json counted as done");
          if (!r.stderr.includes(path.join(dir, "_done.json"))) throw new Error(`the damaged file is not named: ${r.stderr}`);
          if (!readdirSync(dir).some((n) => n.startsWith("_done.json.corrupt-"))) throw new Error("the damaged file was not kept aside");
          if ((await checkDone(dir)).kind !== "ok") throw new Error("not done afterwards");
        } finally {
          await fsp.rm(study.root, { recursive: true, force: true });
        }
      });
    }

    const planCases: Record<string, (t: string) => string> = {
      "truncated plan": (t) => t.slice(0, Math.floor(t.length / 2)),
      "garbage plan": () => "\u0000not json at all",
      "plan of a newer schema": (t) => t.replace('"schema_version":2', '"schema_version":7'),
      "plan of the wrong shape": () => JSON.stringify({ schema_version: 1, kind: "cst-batch-plan", tasks: 3 }),
    };
    for (const [label, edit] of Object.entries(planCases)) {
      await tally.run(label, async () => {
        const study = await makeStudy([{ subject: "sub-01" }]);
        try {
          await fsp.writeFile(study.planFile, edit(await fsp.readFile(study.planFile, "utf8")));
          const r = await runOne(study);
          if (r.code !== EXIT.USAGE) throw new Error(`run-one exited ${r.code}, expected ${EXIT.USAGE}: ${r.stderr}`);
          if (!r.stderr.includes(study.planFile)) throw new Error(`plan path not named: ${r.stderr}`);
          if (!/what to do:/.test(r.stderr)) throw new Error(`no fix given: ${r.stderr}`);
          if (hasStackTrace(r.stderr)) throw new Error("stack trace");
          if (label.includes("newer") && !/newer/.test(r.stderr)) throw new Error(`does not say the plan is newer: ${r.stderr}`);
          // collect on the same damaged plan (as the current plan.jsonl)
          const current = path.join(study.out, ".cst-batch", "plan.jsonl");
          await fsp.copyFile(study.planFile, current);
          const c = runCli(["collect", "--out", study.out]);
          if (c.code !== EXIT.USAGE || !c.stderr.includes(current) || hasStackTrace(c.stderr)) throw new Error(`collect: exit ${c.code}: ${c.stderr}`);
          if ((await study.runCount()) !== 0) throw new Error("csttool ran from a damaged plan");
        } finally {
          await fsp.rm(study.root, { recursive: true, force: true });
        }
      });
    }

    const workCases: Record<string, { file: string; text: string }> = {
      "corrupt _work/attempt.json of a dead run": { file: "attempt.json", text: "{\"schema_version\": 1, \"ki" },
      "corrupt _work/promote.json (journal) of a dead run": { file: "promote.json", text: "{\"schema_version\": 1, \"kind\": \"cst-batch-promote\", \"done\": 5}" },
    };
    for (const [label, c] of Object.entries(workCases)) {
      await tally.run(label, async () => {
        const study = await makeStudy([{ subject: "sub-01" }]);
        try {
          const work = path.join(study.out, "sub-01", "_work");
          await fsp.mkdir(path.join(work, "csttool"), { recursive: true });
          await fsp.writeFile(path.join(work, c.file), c.text);
          const r = await runOne(study);
          if (r.code !== EXIT.OK) throw new Error(`run-one exited ${r.code}: ${r.stderr}`);
          if (!/earlier attempt/.test(r.stderr)) throw new Error(`recovery not reported: ${r.stderr}`);
          const failed = readdirSync(path.join(study.out, "sub-01", "_failed_attempts"));
          if (failed.length !== 1) throw new Error(`expected the dead attempt filed away, found ${failed.join(",")}`);
          if ((await checkDone(path.join(study.out, "sub-01"))).kind !== "ok") throw new Error("not done afterwards");
        } finally {
          await fsp.rm(study.root, { recursive: true, force: true });
        }
      });
    }

    const collectCases: Record<string, (dir: string) => Promise<string>> = {
      "truncated attempt record": async (dir) => {
        const f = path.join(dir, "_failed_attempts", "2026-01-01T00-00-00-000Z_PIPELINE_FAILED", "attempt.json");
        await fsp.mkdir(path.dirname(f), { recursive: true });
        await fsp.writeFile(f, '{"schema_version": 1, "kind": "cst-batch-att');
        return f;
      },
      "attempt record of a newer schema": async (dir) => {
        const f = path.join(dir, "_failed_attempts", "2026-01-01T00-00-00-000Z_SYSTEM", "attempt.json");
        await fsp.mkdir(path.dirname(f), { recursive: true });
        await fsp.writeFile(f, JSON.stringify({ schema_version: 42, kind: "cst-batch-attempt" }));
        return f;
      },
      "garbage _done.json seen by collect": async (dir) => {
        const f = path.join(dir, "_done.json");
        await fsp.writeFile(f, "garbage");
        return f;
      },
      "garbage lock owner": async (dir) => {
        await fsp.writeFile(path.join(dir, "_lock"), "\u0000\u0001 not an owner");
        return "";
      },
      "garbage batch_summary.json from before": async (dir) => {
        await fsp.writeFile(path.join(path.dirname(dir), "batch_summary.json"), "{ half");
        return "";
      },
    };
    for (const [label, damage] of Object.entries(collectCases)) {
      await tally.run(label, async () => {
        const study = await makeStudy([{ subject: "sub-01" }]);
        try {
          const dir = path.join(study.out, "sub-01");
          await fsp.mkdir(dir, { recursive: true });
          await fsp.copyFile(study.planFile, path.join(study.out, ".cst-batch", "plan.jsonl"));
          const named = await damage(dir);
          const c = runCli(["collect", "--out", study.out, "--json"]);
          if (c.code !== EXIT.OK || hasStackTrace(c.stderr)) throw new Error(`collect exited ${c.code}: ${c.stderr}`);
          const summary = JSON.parse(c.stdout) as { counts: { success: number }; problems?: string[] };
          if (summary.counts.success !== 0) throw new Error("a damaged record counted as success");
          if (named && !JSON.stringify(summary).includes(named)) throw new Error(`the damaged file ${named} is not reported`);
          JSON.parse(await fsp.readFile(path.join(study.out, "batch_summary.json"), "utf8"));
        } finally {
          await fsp.rm(study.root, { recursive: true, force: true });
        }
      });
    }

    await tally.run("corrupt submission record", async () => {
      const study = await makeStudy([{ subject: "sub-01" }]);
      try {
        const sub = path.join(study.out, ".cst-batch", "submissions", "x.json");
        await fsp.mkdir(path.dirname(sub), { recursive: true });
        await fsp.writeFile(sub, "{ broken");
        const r = await runCliEnv(["run-one", "--submission", sub, "--chunk", "0"], study.env);
        if (r.code !== EXIT.USAGE || !r.stderr.includes(sub) || hasStackTrace(r.stderr)) throw new Error(`exit ${r.code}: ${r.stderr}`);
      } finally {
        await fsp.rm(study.root, { recursive: true, force: true });
      }
    });

    reportFamily(ctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 600_000);

  it("inputs-changed: a deleted or replaced input is detected before csttool runs and reported", async (ctx) => {
    const tally = new Tally("inputs-changed", "detected");
    const nifti = (s: TestStudy) => s.plan.tasks[0]!.input as { nifti: string; bval: string; bvec: string };
    const cases: Record<string, { edit: (s: TestStudy) => Promise<void>; category: string }> = {
      "NIfTI deleted": { edit: async (s) => fsp.rm(nifti(s).nifti), category: "INPUT_MISSING" },
      "bval deleted": { edit: async (s) => fsp.rm(nifti(s).bval), category: "INPUT_MISSING" },
      "NIfTI replaced by a bigger file": { edit: async (s) => fsp.writeFile(nifti(s).nifti, Buffer.alloc(4096, 3)), category: "VALIDATION" },
      "bvec rewritten (same size, new mtime)": {
        edit: async (s) => {
          const f = nifti(s).bvec;
          const text = await fsp.readFile(f, "utf8");
          await fsp.writeFile(f, text.replace("1", "2"));
          const later = new Date(Date.now() + 5000);
          await fsp.utimes(f, later, later);
        },
        category: "VALIDATION",
      },
      "NIfTI replaced by a folder": {
        edit: async (s) => {
          await fsp.rm(nifti(s).nifti);
          await fsp.mkdir(nifti(s).nifti);
        },
        category: "VALIDATION",
      },
      "NIfTI replaced by a dangling symlink": {
        edit: async (s) => {
          await fsp.rm(nifti(s).nifti);
          symlinkSync("/nonexistent/elsewhere.nii.gz", nifti(s).nifti);
        },
        category: "INPUT_MISSING",
      },
    };
    for (const [label, c] of Object.entries(cases)) {
      await tally.run(label, async () => {
        const study = await makeStudy([{ subject: "sub-01" }]);
        try {
          await c.edit(study);
          const r = await runOne(study);
          if (r.code !== EXIT.SUBJECT_FAILED) throw new Error(`exit ${r.code}, expected ${EXIT.SUBJECT_FAILED}: ${r.stderr}`);
          if (!r.stderr.includes(c.category)) throw new Error(`category ${c.category} not reported: ${r.stderr}`);
          if ((await study.runCount()) !== 0) throw new Error("csttool ran on changed inputs");
          if (hasStackTrace(r.stderr)) throw new Error("stack trace");
        } finally {
          await fsp.rm(study.root, { recursive: true, force: true });
        }
      });
    }
    // DICOM through the real planner: a file of the series deleted, one added.
    for (const change of ["a DICOM file deleted", "a DICOM file added"]) {
      await tally.run(change, async () => {
        const dir = tempDir("cst-rel-dicom-");
        try {
          const bids = makeDemoBids(path.join(dir, "bids"));
          const out = path.join(dir, "out");
          const argvLog = path.join(dir, "argv.jsonl");
          const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog };
          const p = runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--json"], { env });
          expect(p.code).toBe(EXIT.OK);
          const planPath = (JSON.parse(p.stdout) as { planPath: string }).planPath;
          const plan = readPlanFile(planPath);
          const t = plan.tasks.find((x) => x.input.kind === "dicom")! as { index: number; input: { kind: string; dicom_dir: string } };
          const files = readdirSync(t.input.dicom_dir).sort();
          if (change.includes("deleted")) await fsp.rm(path.join(t.input.dicom_dir, files[0]!));
          else await fsp.copyFile(path.join(t.input.dicom_dir, files[0]!), path.join(t.input.dicom_dir, `zz-extra-${files[0]!}`));
          const r = runCli(["run-one", "--plan", planPath, "--index", String(t.index)], { env });
          if (r.code !== EXIT.SUBJECT_FAILED || !/VALIDATION|INPUT_MISSING/.test(r.stderr)) throw new Error(`exit ${r.code}: ${r.stderr}`);
          const ran = standinCalls(argvLog).filter((c) => !c.argv.includes("--help"));
          if (ran.length) throw new Error(`csttool ran on a changed series: ${JSON.stringify(ran[0]!.argv)}; run-one said: ${r.stderr.trim()}`);
        } finally {
          await fsp.rm(dir, { recursive: true, force: true });
        }
      });
    }
    reportFamily(ctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 300_000);

  it("scheduler-failures: sbatch missing, failing, printing garbage, hanging, failing half-way: clear error, nothing half-recorded, safe to rerun", async (ctx) => {
    const tally = new Tally("scheduler-failures", "clean errors");
    const dir = tempDir("cst-rel-sched-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const fake = path.join(dir, "fakebin");
    const nodeOnly = path.join(dir, "nodebin");
    await fsp.mkdir(fake);
    await fsp.mkdir(nodeOnly);
    symlinkSync(process.execPath, path.join(nodeOnly, "node"));
    const scancelLog = path.join(dir, "scancel.log");
    await fsp.writeFile(
      path.join(fake, "sbatch"),
      `#!/bin/sh
case "$FAKE_SBATCH" in
  fail) echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2; exit 1;;
  garbage) echo "<html>502 proxy error</html>"; exit 0;;
  hang) exec sleep 600;;
  crash) kill -9 $$;;
  second-fails) n=$(cat "$FAKE_SBATCH_COUNT" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$FAKE_SBATCH_COUNT"; if [ $n -ge 2 ]; then echo "sbatch: error: QOSMaxSubmitJobPerUserLimit" >&2; exit 1; fi; echo "900001";;
  *) case "$1" in --version) echo "slurm 23.02.0";; *) echo "900002";; esac;;
esac
`,
      { mode: 0o755 },
    );
    await fsp.writeFile(path.join(fake, "scancel"), `#!/bin/sh\necho "$@" >> '${scancelLog}'\n`, { mode: 0o755 });
    const cases: Record<string, { env: Record<string, string> }> = {
      "sbatch not installed": { env: { PATH: `${nodeOnly}` } },
      "sbatch exits non-zero": { env: { FAKE_SBATCH: "fail" } },
      "sbatch prints garbage": { env: { FAKE_SBATCH: "garbage" } },
      "sbatch hangs": { env: { FAKE_SBATCH: "hang", CST_BATCH_SCHEDULER_TIMEOUT_SECONDS: "2" } },
      "sbatch killed by a signal": { env: { FAKE_SBATCH: "crash" } },
      "second sbatch (collect job) fails": { env: { FAKE_SBATCH: "second-fails" } },
    };
    try {
      for (const [label, c] of Object.entries(cases)) {
        await tally.run(label, async () => {
          const out = path.join(dir, `out-${label.replace(/\W+/g, "-")}`);
          const env = { PATH: `${fake}:${process.env.PATH}`, FAKE_SBATCH_COUNT: path.join(dir, `${label.length}.count`), XDG_CONFIG_HOME: path.join(dir, "xdg"), ...c.env };
          const args = ["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--csttool-version", "0.5.0", "--skip-disk-check"];
          const before = await snapshotTree(dir, (rel) => rel.startsWith("out-") || rel.endsWith(".count") || rel === "scancel.log");
          const started = Date.now();
          const r = runCli(args, { env, timeoutMs: 60_000 });
          if (r.code !== EXIT.SYSTEM && r.code !== EXIT.USAGE) throw new Error(`exit ${r.code}: ${r.stderr}`);
          if (!/sbatch/.test(r.stderr)) throw new Error(`error does not name sbatch: ${r.stderr}`);
          if (!/what to do:/.test(r.stderr)) throw new Error(`no fix given: ${r.stderr}`);
          if (hasStackTrace(r.stderr)) throw new Error("stack trace");
          if (label.includes("hangs") && Date.now() - started > 20_000) throw new Error("the hang was not cut short");
          const subs = path.join(out, ".cst-batch", "submissions");
          const records = existsSync(subs) ? readdirSync(subs).filter((n) => n.endsWith(".json")) : [];
          if (records.length) throw new Error(`a submission was recorded despite the failure: ${records.join(", ")}`);
          if (label.includes("second") && !(await fsp.readFile(scancelLog, "utf8").catch(() => "")).includes("900001")) {
            throw new Error("the array job submitted before the failure was not cancelled");
          }
          const outside = diffTrees(before, await snapshotTree(dir, (rel) => rel.startsWith("out-") || rel.endsWith(".count") || rel === "scancel.log"));
          if (outside.length) throw new Error(`written outside --out: ${outside.join(", ")}`);
          // Safe to rerun once sbatch works.
          const again = runCli(args, { env: { PATH: `${fake}:${process.env.PATH}`, XDG_CONFIG_HOME: path.join(dir, "xdg") } });
          if (again.code !== EXIT.OK) throw new Error(`rerun exited ${again.code}: ${again.stderr}`);
          const after = readdirSync(subs).filter((n) => n.endsWith(".json"));
          if (after.length !== 1) throw new Error(`expected one submission record after the rerun, found ${after.length}`);
        });
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
    reportFamily(ctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 300_000);
});
