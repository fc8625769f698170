import { describe, expect, it } from "vitest";
import { readPlanFile } from "../helpers/plan-file.js";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, promises as fsp, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import os from "node:os";
import { EXIT } from "../../src/errors.js";
import { CLI, makeDemoBids, parseCsv, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";
import { diffTrees, hasStackTrace, snapshotTree } from "../helpers/reliability-fs.js";
import { HOSTILE_CASES, writeManifest, type CorpusContext } from "../helpers/reliability-hostile.js";
import { FULL, reportFamily, Tally } from "../helpers/reliability-results.js";
import { slurmAvailable } from "../helpers/slurm-env.js";
import { minimalNifti } from "../helpers/nifti-bytes.js";

/**
 * Hostile and malformed input through the built CLI. Every case: the documented exit code, a
 * message naming the input (and the fix), no stack trace, nothing written outside --out, and the
 * good result already in --out untouched.
 */

/** Every file named PWNED under these roots (a hostile value that reached a shell). */
/**
 * Files a hostile value's `touch PWNEDn` made: anywhere below the test's own folders, and in the
 * folders a shell could have started in (a root given as [folder, depth] is searched that deep:
 * /tmp can hold other work's large trees, and a command runs in a folder, not below it).
 */
function findPwned(roots: Array<string | [string, number]>): string[] {
  const found: string[] = [];
  for (const entry of roots) {
    const [root, depth] = typeof entry === "string" ? [entry, null] : entry;
    const r = spawnSync("find", [root, "-xdev", ...(depth === null ? [] : ["-maxdepth", String(depth)]), "-name", "PWNED*"], { encoding: "utf8" });
    found.push(...r.stdout.split("\n").filter(Boolean));
  }
  return found;
}

function setupCorpus(): { root: string; ctx: CorpusContext; goodOut: string } {
  const root = tempDir("cst-rel-hostile-");
  const bids = makeDemoBids(path.join(root, "bids"));
  const ctx: CorpusContext = {
    bids,
    nifti: path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz"),
    dicom: path.join(bids, "sub-03", "dwi"),
    standin: STANDIN,
  };
  const goodOut = path.join(root, "good-out");
  const r = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", goodOut, "--csttool", STANDIN, "--skip-disk-check"]);
  if (r.code !== EXIT.OK) throw new Error(`the good run failed: ${r.stderr}`);
  return { root, ctx, goodOut };
}

describe("reliability: hostile and malformed input", () => {
  it("hostile-input: a table of malformed inputs, each a clean error with the documented exit code", async (tctx) => {
    const { root, ctx, goodOut } = setupCorpus();
    const tally = new Tally("hostile-input", "clean errors");
    const skipOutside = (rel: string) => rel === "good-out" || rel.startsWith("good-out/");
    try {
      for (const [i, c] of HOSTILE_CASES.entries()) {
        // npm test: every 4th case; CST_RELIABILITY_FULL=1: all of them.
        if (!FULL && i % 4 !== 0) continue;
        await tally.run(c.name, async () => {
          const dir = path.join(root, "cases", String(i));
          mkdirSync(dir, { recursive: true });
          const args = (await c.setup(dir, ctx)).map((a) => (a === "{out}" ? goodOut : a));
          const outsideBefore = await snapshotTree(root, skipOutside);
          const outBefore = await snapshotTree(goodOut);
          const started = Date.now();
          const r = runCli(args, { cwd: dir, env: c.env ?? {}, timeoutMs: c.maxMs ?? 60_000 });
          const took = Date.now() - started;
          if (r.signal) throw new Error(`killed by ${r.signal} after ${took} ms (hung?)`);
          if (r.code !== c.code) throw new Error(`exit ${r.code}, expected ${c.code}: ${r.stderr.slice(0, 600)}`);
          for (const re of c.stderr) if (!re.test(r.stderr)) throw new Error(`stderr does not match ${re}: ${r.stderr.slice(0, 600)}`);
          if (hasStackTrace(r.stderr)) throw new Error(`stack trace: ${r.stderr.slice(0, 600)}`);
          if (/internal error/.test(r.stderr)) throw new Error(`internal error: ${r.stderr.slice(0, 600)}`);
          const outside = diffTrees(outsideBefore, await snapshotTree(root, skipOutside)).filter((l) => !l.includes(`cases/${i}`) || /PWNED/.test(l));
          if (outside.length) throw new Error(`written outside --out: ${outside.slice(0, 5).join(", ")}`);
          const inOut = diffTrees(outBefore, await snapshotTree(goodOut)).filter((l) => !(c.code === EXIT.OK && l.includes(".cst-batch/")));
          if (inOut.length) throw new Error(`--out changed: ${inOut.slice(0, 5).join(", ")}`);
          const pwned = findPwned([root, process.cwd()]);
          if (pwned.length) throw new Error(`a hostile value ran: ${pwned.join(", ")}`);
        });
      }
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
    reportFamily(tctx, tally.figures());
    expect(tally.tried).toBeGreaterThanOrEqual(FULL ? 40 : 10);
    expect(tally.failures).toEqual([]);
  }, 900_000);

  it("hostile-scale: a 50,000-subject manifest and a 200 MB manifest plan or fail cleanly and quickly; NaN/Infinity metrics collect", async (tctx) => {
    const root = tempDir("cst-rel-scale-");
    const tally = new Tally("hostile-scale", "clean");
    try {
      await tally.run("50,000 subjects, files missing", async () => {
        const subjects = Array.from({ length: 50_000 }, (_, i) => ({ id: `sub-${i}`, nifti: `data/sub-${i}_dwi.nii.gz` }));
        const manifest = writeManifest(root, { subjects }, "big50k.json");
        const started = Date.now();
        const r = runCli(["plan", "--manifest", manifest, "--out", path.join(root, "out50k"), "--csttool", STANDIN, "--skip-disk-check"], { timeoutMs: 120_000 });
        const took = Date.now() - started;
        if (r.code !== EXIT.PREFLIGHT) throw new Error(`exit ${r.code}: ${r.stderr.slice(0, 400)}`);
        if (took > 60_000) throw new Error(`took ${took} ms`);
        const lines = r.stderr.split("\n").length;
        if (lines > 500) throw new Error(`not compact: ${lines} lines of problems`);
        if (!/sub-0_dwi\.nii\.gz|50000|50,000|more/.test(r.stderr)) throw new Error(`the missing files are not summarised: ${r.stderr.slice(0, 400)}`);
        if (hasStackTrace(r.stderr)) throw new Error("stack trace");
      });
      const present = FULL ? 50_000 : 2_000;
      await tally.run(`${present} subjects, files present`, async () => {
        const data = path.join(root, "data50k");
        mkdirSync(data);
        const subjects = [];
        const niftiBytes = minimalNifti();
        for (let i = 0; i < present; i++) {
          const stem = path.join(data, `sub-${i}_dwi`);
          writeFileSync(`${stem}.nii.gz`, niftiBytes);
          writeFileSync(`${stem}.bval`, "0\n");
          writeFileSync(`${stem}.bvec`, "0\n0\n0\n");
          subjects.push({ id: `sub-${i}`, nifti: `${stem}.nii.gz` });
        }
        const manifest = writeManifest(root, { subjects }, "ok50k.json");
        const started = Date.now();
        const r = runCli(["plan", "--manifest", manifest, "--out", path.join(root, "ok50k"), "--csttool", STANDIN, "--skip-disk-check", "--json"], { timeoutMs: 180_000 });
        const took = Date.now() - started;
        if (r.code !== EXIT.OK) throw new Error(`exit ${r.code}: ${r.stderr.slice(0, 400)}`);
        if (took > 120_000) throw new Error(`took ${took} ms`);
        const planPath = (JSON.parse(r.stdout) as { planPath: string }).planPath;
        if (readPlanFile(planPath).task_count !== present) throw new Error("not every subject planned");
        console.log(`[reliability] hostile-scale: ${present}-subject manifest planned in ${took} ms`);
        await fsp.rm(data, { recursive: true, force: true });
      });
      const hugeMb = FULL ? 200 : 70;
      await tally.run(`${hugeMb} MB manifest`, async () => {
        const file = path.join(root, "huge.json");
        const fd = await fsp.open(file, "w");
        await fd.write('{"subjects": [');
        const entry = `${JSON.stringify({ id: "sub-1", nifti: "/nonexistent/" + "x".repeat(200) })},`;
        const chunk = entry.repeat(10_000);
        let size = 0;
        while (size < hugeMb * 1024 * 1024) {
          await fd.write(chunk);
          size += chunk.length;
        }
        await fd.write(`${JSON.stringify({ id: "sub-2", nifti: "/nonexistent/y" })}]}`);
        await fd.close();
        const started = Date.now();
        const r = runCli(["plan", "--manifest", file, "--out", path.join(root, "outhuge"), "--csttool", STANDIN, "--skip-disk-check"], {
          timeoutMs: 120_000,
          env: { NODE_OPTIONS: "--max-old-space-size=1024" },
        });
        const took = Date.now() - started;
        if (r.signal) throw new Error(`killed by ${r.signal}`);
        if (r.code !== EXIT.PREFLIGHT && r.code !== EXIT.USAGE) throw new Error(`exit ${r.code} after ${took} ms: ${r.stderr.slice(0, 400)}`);
        if (!/huge\.json/.test(r.stderr) || !/MB/.test(r.stderr)) throw new Error(`no clear size message: ${r.stderr.slice(0, 400)}`);
        if (hasStackTrace(r.stderr)) throw new Error("stack trace");
        if (took > 20_000) throw new Error(`took ${took} ms`);
        await fsp.rm(file);
      });
      await tally.run("NaN/Infinity tokens in metrics JSON (collect)", async () => {
        const bids = makeDemoBids(path.join(root, "bids-nan"));
        const out = path.join(root, "out-nan");
        const config = path.join(root, "nan.json");
        writeFileSync(config, JSON.stringify({ "sub-02": "nan" }));
        const r = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check"], { env: { CSTTOOL_STANDIN_CONFIG: config } });
        if (r.code !== EXIT.OK) throw new Error(`exit ${r.code}: ${r.stderr}`);
        const c = runCli(["collect", "--out", out, "--json"]);
        if (c.code !== EXIT.OK) throw new Error(`collect exit ${c.code}: ${c.stderr}`);
        JSON.parse(c.stdout);
        const summary = readFileSync(path.join(out, "batch_summary.json"), "utf8");
        if (/NaN|Infinity/.test(summary)) throw new Error("NaN/Infinity leaked into batch_summary.json");
        const rows = parseCsv(readFileSync(path.join(out, "batch_metrics.csv"), "utf8")).filter((x) => x.length > 1);
        const header = rows[0]!;
        const row = rows.find((x) => x[0] === "sub-02")!;
        if (!row) throw new Error("sub-02 missing from the CSV");
        if (row.some((v) => /NaN|Infinity/.test(v))) throw new Error("NaN/Infinity in the CSV");
        if (row[header.indexOf("left_fa_pontine")] !== "") throw new Error("a NaN value did not become an empty cell");
        if (row[header.indexOf("left_fa_mean")] === "") throw new Error("the finite values of the file were lost");
      });
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
    reportFamily(tctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 900_000);

  it("shell-safety: hostile paths WORK in a real local run and in rendered Slurm scripts; nothing they hold ever executes", async (tctx) => {
    const tally = new Tally("shell-safety", "safe");
    const base = tempDir("cst-rel-shell-");
    const hostile = path.join(base, `we'ird "dir" $(touch PWNED1) \`touch PWNED2\` ; touch PWNED3 & x`);
    mkdirSync(hostile, { recursive: true });
    const check = (): void => {
      const pwned = findPwned([base, process.cwd(), ["/tmp", 2], [os.homedir(), 1]]);
      if (pwned.length) throw new Error(`executed: ${pwned.join(", ")}`);
    };
    try {
      const bids = makeDemoBids(path.join(hostile, "bids $(touch PWNED4)"));
      const argvLog = path.join(base, "argv.jsonl");
      await tally.run("local run, BIDS and --out under a hostile path", async () => {
        const out = path.join(hostile, "out `touch PWNED5`");
        const r = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check"], { cwd: base, env: { CSTTOOL_STANDIN_ARGV_LOG: argvLog } });
        if (r.code !== EXIT.OK) throw new Error(`exit ${r.code}: ${r.stderr}`);
        for (const d of ["sub-01/ses-01", "sub-02", "sub-03"]) if (!existsSync(path.join(out, d, "_done.json"))) throw new Error(`${d} not done`);
        const calls = standinCalls(argvLog);
        if (!calls.some((c) => c.argv.some((a) => a.startsWith(bids)))) throw new Error("csttool did not get the literal hostile path");
        check();
      });
      await tally.run("manifest run, hostile NIfTI file name", async () => {
        const src = path.join(bids, "sub-02", "dwi");
        const odd = path.join(hostile, "in $(touch PWNED6)");
        mkdirSync(odd);
        for (const ext of [".nii.gz", ".bval", ".bvec"]) await fsp.copyFile(path.join(src, `sub-02_dwi${ext}`), path.join(odd, `a'b"c;\`d\`$(e)_dwi${ext}`));
        const manifest = writeManifest(base, { subjects: [{ id: "sub-07", nifti: path.join(odd, `a'b"c;\`d\`$(e)_dwi.nii.gz`) }] }, "m.json");
        const out = path.join(hostile, "out2");
        const r = runCli(["submit", "--scheduler", "local", "--manifest", manifest, "--out", out, "--csttool", STANDIN, "--skip-disk-check"], { cwd: base });
        if (r.code !== EXIT.OK) throw new Error(`exit ${r.code}: ${r.stderr}`);
        if (!existsSync(path.join(out, "sub-07", "_done.json"))) throw new Error("not done");
        check();
      });
      await tally.run("Slurm scripts rendered (--dry-run) for hostile values parse under bash -n", async () => {
        const out = path.join(hostile, "out3 $(touch PWNED7)");
        const r = runCli(["submit", "--scheduler", "slurm", "--dry-run", "--json", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--job-name", "x$(touch PWNED8)"], { cwd: base });
        if (r.code !== EXIT.OK) throw new Error(`dry-run exit ${r.code}: ${r.stderr}`);
        const scripts = (JSON.parse(r.stdout) as { scripts: { name: string; text: string }[] }).scripts;
        for (const sc of scripts) {
          const file = path.join(base, `${sc.name}.sh`);
          writeFileSync(file, sc.text);
          const syntax = spawnSync("bash", ["-n", file], { encoding: "utf8" });
          if (syntax.status !== 0) throw new Error(`${sc.name} does not parse: ${syntax.stderr}`);
        }
        check();
      });
      await tally.run("Slurm scripts submitted for hostile paths run correctly under bash", async () => {
        const fake = path.join(base, "fakebin");
        mkdirSync(fake, { recursive: true });
        writeFileSync(path.join(fake, "sbatch"), '#!/bin/sh\ncase "$1" in --version) echo "slurm 23.02.0";; *) echo 777001;; esac\n', { mode: 0o755 });
        const out = path.join(hostile, "out5 $(touch PWNED10)");
        const r = runCli(["submit", "--scheduler", "slurm", "--json", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--job-name", "x`touch PWNED11`"], {
          cwd: base,
          env: { PATH: `${fake}:${process.env.PATH}`, XDG_CONFIG_HOME: path.join(base, "xdg") },
        });
        if (r.code !== EXIT.OK) throw new Error(`submit exit ${r.code}: ${r.stderr}`);
        const j = JSON.parse(r.stdout) as { scripts: { name: string; path: string }[] };
        const array = j.scripts.find((x) => x.name.startsWith("array"))!.path;
        // Run the array script as Slurm would, element 2 (sub-02), from another folder.
        const run = spawnSync("bash", [array], {
          cwd: base,
          encoding: "utf8",
          env: { ...process.env, SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_JOB_ID: "777001", SLURM_JOB_ID: "777003", CSTTOOL_STANDIN_ARGV_LOG: argvLog },
          timeout: 60_000,
        });
        if (run.status !== 0) throw new Error(`array script exited ${run.status}: ${run.stderr.slice(0, 600)}`);
        if (!existsSync(path.join(out, "sub-02", "_done.json"))) throw new Error(`the array element did not complete sub-02: ${run.stderr.slice(0, 600)}`);
        const collectScript = j.scripts.find((x) => x.name === "collect")!.path;
        const collect = spawnSync("bash", [collectScript], { cwd: base, encoding: "utf8", env: process.env, timeout: 60_000 });
        if (collect.status !== 0) throw new Error(`collect script exited ${collect.status}: ${collect.stderr.slice(0, 600)}`);
        if (!existsSync(path.join(out, "batch_summary.json"))) throw new Error("no summary");
        check();
      });
      if (slurmAvailable().available) {
        await tally.run("real Slurm array over hostile paths", async () => {
          const out = path.join(hostile, "out4 $(touch PWNED9)");
          const r = runCli(["submit", "--scheduler", "slurm", "--json", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--mem", "200M", "--time", "5m"], { cwd: base, env: { XDG_CONFIG_HOME: path.join(base, "xdg") } });
          if (r.code !== EXIT.OK) throw new Error(`submit exit ${r.code}: ${r.stderr}`);
          const j = JSON.parse(r.stdout) as { job_ids: string[]; collect_job_id: string };
          const { waitForSlurmJobsGone } = await import("../helpers/slurm-wait.js");
          await waitForSlurmJobsGone([...j.job_ids, j.collect_job_id], 180_000);
          for (const d of ["sub-01/ses-01", "sub-02", "sub-03"]) if (!existsSync(path.join(out, d, "_done.json"))) throw new Error(`${d} not done by Slurm`);
          if (!existsSync(path.join(out, "batch_summary.json"))) throw new Error("collect job did not write the summary");
          check();
        });
      }
    } finally {
      check.call(null);
      execFileSync("rm", ["-rf", base]);
    }
    reportFamily(tctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 600_000);
});
void CLI;
