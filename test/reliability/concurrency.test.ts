import { describe, expect, it } from "vitest";
import { existsSync, promises as fsp } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { EXIT } from "../../src/errors.js";
import { makeStudy } from "../helpers/run-plan.js";
import { pidsWithEnv, runCli as runCliEnv, sleep, startCli as startCliEnv, waitFor } from "../helpers/run-procs.js";
import { parseCsv, runCli, STANDIN, standinCalls, startCli, tempDir } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { slurmAvailable } from "../helpers/slurm-env.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";
import { checkDone } from "../helpers/reliability-fs.js";
import { iterations, reportFamily, Tally } from "../helpers/reliability-results.js";

/** Concurrency: one index started twice; several runners over one --out; hung/stubborn csttool. */

describe("reliability: concurrency and process cleanup", () => {
  it("same-index-twice: two run-one of one index at once run csttool exactly once", async (ctx) => {
    const n = iterations(5, 50);
    const subjects = Array.from({ length: n }, (_, i) => ({ subject: `sub-${String(i + 1).padStart(3, "0")}` }));
    const study = await makeStudy(subjects, { graceSeconds: 1 });
    await study.setBehaviours(Object.fromEntries(subjects.map((s) => [s.subject, "sleep:0.3"])));
    const tally = new Tally("same-index-twice");
    try {
      for (let i = 0; i < n; i++) {
        await tally.run(`index ${i}`, async () => {
          const args = ["run-one", "--plan", study.planFile, "--index", String(i)];
          const [a, b] = await Promise.all([runCliEnv(args, study.env), runCliEnv(args, study.env)]);
          const codes = [a.code, b.code].sort();
          // One runs; the other is told the subject is busy (75), or finds it done (0).
          if (!codes.includes(EXIT.OK) || codes.some((c) => c !== EXIT.OK && c !== EXIT.LOCK_BUSY)) {
            throw new Error(`exit codes ${codes.join(",")}: ${a.stderr.trim()} / ${b.stderr.trim()}`);
          }
          const label = subjects[i]!.subject.slice(4);
          const runs = standinCalls(study.argvLog).filter((c) => c.argv[c.argv.indexOf("--subject-id") + 1] === label).length;
          if (runs !== 1) throw new Error(`csttool ran ${runs} times`);
          const done = await checkDone(path.join(study.out, subjects[i]!.subject));
          if (done.kind !== "ok") throw new Error(`not done: ${done.problems.join("; ")}`);
        });
      }
    } finally {
      await fsp.rm(study.root, { recursive: true, force: true });
    }
    reportFamily(ctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 900_000);

  it("concurrent-runners: two local runs, direct run-one processes (and a Slurm array) over one --out; collect output always parses", async (ctx) => {
    const rounds = iterations(1, 3);
    const runners = new Tally("concurrent-runners", "ran exactly once");
    const reads = new Tally("collect-reads-while-running", "parsed");
    const slurm = slurmAvailable();
    for (let round = 0; round < rounds; round++) {
      const dir = tempDir("cst-rel-conc-");
      const nSubjects = 12;
      const ids = Array.from({ length: nSubjects }, (_, i) => ({ id: `sub-${String(i + 1).padStart(2, "0")}` }));
      const bids = await makeBidsDataset(path.join(dir, "bids"), ids);
      const out = path.join(dir, "out");
      const argvLog = path.join(dir, "argv.jsonl");
      const config = path.join(dir, "behaviours.json");
      await fsp.writeFile(config, JSON.stringify(Object.fromEntries(ids.map((s, i) => [s.id, `sleep:${0.2 + (i % 4) * 0.15}`]))));
      const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog, CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
      const planned = runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--json"], { env });
      expect(planned.code).toBe(EXIT.OK);
      const planFile = (JSON.parse(planned.stdout) as { planPath: string }).planPath;

      // A reader that polls the reports while everything runs; every read must parse.
      let stop = false;
      const summaryFile = path.join(out, "batch_summary.json");
      const csvFile = path.join(out, "batch_metrics.csv");
      const reader = (async () => {
        while (!stop) {
          for (const file of [summaryFile, csvFile]) {
            let text: string;
            try {
              text = await fsp.readFile(file, "utf8");
            } catch {
              continue; // not written yet
            }
            await reads.run(path.basename(file), () => {
              if (file === summaryFile) JSON.parse(text);
              else {
                const rows = parseCsv(text).filter((r) => r.length > 1);
                const width = rows[0]?.length ?? 0;
                if (width < 6 || rows.some((r) => r.length !== width)) throw new Error(`ragged CSV (${rows.map((r) => r.length).join(",")})`);
              }
            });
          }
          await sleep(15);
        }
      })();
      // A writer of the reports besides the runners' own collect.
      const collector = (async () => {
        while (!stop) {
          await startCli(["collect", "--out", out], { env }).done;
        }
      })();

      let slurmJobs: string[] = [];
      if (slurm.available) {
        const r = await startCli(["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--json", "--skip-disk-check", "--mem", "200M", "--time", "5m"], { env }).done;
        if (r.code !== EXIT.OK) throw new Error(`submit --scheduler slurm exited ${r.code}: ${r.stderr}`);
        const j = JSON.parse(r.stdout) as { kind: string; job_ids?: string[]; collect_job_id?: string };
        if (j.kind !== "submitted" || !j.job_ids || !j.collect_job_id) throw new Error(`submit --scheduler slurm: ${r.stdout.slice(0, 500)}`);
        slurmJobs = [...j.job_ids, j.collect_job_id];
      }
      const procs: Promise<{ code: number | null; stderr: string }>[] = [];
      const local = ["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--jobs", "3", "--skip-disk-check"];
      procs.push(startCli(local, { env }).done, startCli(local, { env }).done);
      for (let i = nSubjects - 1; i >= 0; i--) procs.push(startCliEnv(["run-one", "--plan", planFile, "--index", String(i)], { ...process.env, ...env }).done);
      const results = await Promise.all(procs);
      if (slurmJobs.length) await waitForSlurmJobsGone(slurmJobs, 180_000);
      stop = true;
      await Promise.all([reader, collector]);

      for (const r of results) expect([EXIT.OK, EXIT.LOCK_BUSY]).toContain(r.code);
      const counts = new Map<string, number>();
      for (const c of standinCalls(argvLog)) {
        const id = `sub-${c.argv[c.argv.indexOf("--subject-id") + 1]}`;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      for (const s of ids) {
        await runners.run(`round ${round} ${s.id}`, async () => {
          const runs = counts.get(s.id) ?? 0;
          if (runs !== 1) throw new Error(`csttool ran ${runs} times`);
          const done = await checkDone(path.join(out, s.id));
          if (done.kind !== "ok") throw new Error(`not done: ${done.problems.join("; ")}`);
        });
      }
      await fsp.rm(dir, { recursive: true, force: true });
    }
    reportFamily(ctx, { ...runners.figures(), family: `concurrent-runners (${slurm.available ? "2 local + run-one + Slurm array" : `2 local + run-one; Slurm skipped: ${slurm.reason}`})` });
    reportFamily(ctx, reads.figures());
    // Both figures live on this test; the reporter shows the last one, the log shows both.
    ctx.task.meta.reliability = { ...runners.figures(), family: "concurrent-runners", noun: `ran exactly once; collect reads ${reads.ok}/${reads.tried} parsed` };
    expect(runners.failures).toEqual([]);
    expect(reads.failures).toEqual([]);
    expect(reads.tried).toBeGreaterThan(0);
  }, 900_000);

  it("process-cleanup: hung, SIGTERM-ignoring and grandchild-forking csttool leave no process after timeout + grace + 2 s", async (ctx) => {
    const behaviours = ["hang", "ignore-term", "grandchild"] as const;
    const n = iterations(3, 30);
    const timeoutMinutes = 0.02; // 1.2 s
    const graceSeconds = 1;
    const tally = new Tally("process-cleanup", "left zero survivors");
    for (let i = 0; i < n; i++) {
      const behaviour = behaviours[i % behaviours.length]!;
      await tally.run(`#${i} ${behaviour}`, async () => {
        const study = await makeStudy([{ subject: "sub-01" }], { graceSeconds });
        const mark = randomBytes(6).toString("hex");
        const env = { ...study.env, CST_REL_CLEANUP: mark };
        try {
          await study.setBehaviours({ "sub-01": behaviour });
          const run = startCliEnv(["run-one", "--plan", study.planFile, "--index", "0", "--timeout-minutes", String(timeoutMinutes)], env);
          await waitFor(async () => (await study.runCount()) > 0, 15_000, 10);
          const started = Date.now();
          const r = await run.done;
          const elapsed = Date.now() - started;
          const survivors = await pidsWithEnv(`CST_REL_CLEANUP=${mark}`);
          for (const p of survivors) process.kill(p, "SIGKILL");
          if (survivors.length) throw new Error(`${survivors.length} process(es) survived: ${survivors.join(",")}`);
          if (r.code !== EXIT.TIMEOUT_OR_KILLED) throw new Error(`exit ${r.code}, expected ${EXIT.TIMEOUT_OR_KILLED}: ${r.stderr.trim()}`);
          const limit = timeoutMinutes * 60_000 + graceSeconds * 1000 + 2000;
          if (elapsed > limit) throw new Error(`run-one took ${elapsed} ms after csttool started (limit ${limit} ms)`);
          if (!existsSync(path.join(study.out, "sub-01", "_failed_attempts"))) throw new Error("no failure record");
        } finally {
          await fsp.rm(study.root, { recursive: true, force: true });
        }
      });
    }
    reportFamily(ctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 900_000);
});
