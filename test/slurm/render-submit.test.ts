import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { pbsProBackend } from "../../src/schedulers/pbs-pro.js";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";
import { slurmBackend } from "../../src/schedulers/slurm.js";
import type { ArrayScriptContext, CollectScriptContext } from "../../src/schedulers/types.js";
import { qsubAvailable, requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";

/**
 * Rendered scripts on the real (local) Slurm. cst-batch itself is not involved: the entry point
 * handed to the script is test/fixtures/schedulers/echo-entry.mjs, which records its argv and
 * environment, so these tests prove the template, the #SBATCH / #PBS directives, the dependency
 * and the log folder — not run-one.
 */
const ECHO_ENTRY = fileURLToPath(new URL("../fixtures/schedulers/echo-entry.mjs", import.meta.url));
const haveSlurm = requireSlurmOrSkip();

interface EchoRecord {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  time_ms: number;
}

function readEcho(dir: string): EchoRecord[] {
  const echoDir = path.join(dir, "echo");
  let names: string[] = [];
  try {
    names = readdirSync(echoDir);
  } catch {
    return [];
  }
  return names.map((f) => JSON.parse(readFileSync(path.join(echoDir, f), "utf8")) as EchoRecord);
}

async function submit(argv: string[], cwd: string): Promise<string> {
  const out = await runSchedulerCommand(argv, { cwd });
  if (out.kind !== "ok") throw new Error(`${argv.join(" ")}: ${JSON.stringify(out)}`);
  return out.stdout;
}

describe.skipIf(!haveSlurm)("rendered scripts on the local Slurm", { timeout: 180_000 }, () => {
  // On the test cluster jobs run on this machine: /tmp is "shared". A real cluster needs a shared folder.
  const root = mkdtempSync(path.join(os.tmpdir(), "cst-slurm-render-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("a 4-element Slurm array with throttle runs chunk offset+index, logs per element, then collect runs after it", async () => {
    // Quote, space and % in the folder: quoted on the #SBATCH lines, % doubled for Slurm's patterns.
    const work = path.join(root, "study it's 100% done");
    const logDir = path.join(work, "logs");
    mkdirSync(logDir, { recursive: true }); // Slurm fails every task if the log folder is missing
    const base = {
      jobName: "cst it's",
      logDir,
      workDir: work,
      outDir: work,
      schedulerArgs: ["--export=ALL"],
      setupLines: ["export CST_SETUP_RAN=yes"],
      nodeExecutable: process.execPath,
      entryScript: ECHO_ENTRY,
      submissionFile: path.join(work, ".cst-batch", "submissions", "s 1.json"),
    };
    const arrayCtx: ArrayScriptContext = {
      ...base,
      resources: { timeSeconds: 300, memMiB: 100, cpus: 1, partition: "debug", account: null, qos: null, gres: null },
      arraySize: 4,
      throttle: 2,
      chunkOffset: 10,
      timeoutMinutes: 3,
      signalWarningSeconds: 60,
      container: null,
    };
    const collectCtx: CollectScriptContext = {
      ...base,
      jobName: "cst-collect",
      resources: { ...arrayCtx.resources, memMiB: 50 },
    };
    const arrayScript = path.join(work, "array.sh");
    const collectScript = path.join(work, "collect.sh");
    writeFileSync(arrayScript, slurmBackend.renderArrayScript(arrayCtx));
    writeFileSync(collectScript, slurmBackend.renderCollectScript(collectCtx));

    const arrayId = slurmBackend.parseJobId(await submit(slurmBackend.submitArgv(arrayScript), root));
    const collectId = slurmBackend.parseJobId(await submit(slurmBackend.submitArgv(collectScript, { dependsOn: [arrayId] }), root));
    await waitForSlurmJobsGone([arrayId, collectId], 150_000);

    const records = readEcho(work);
    const runs = records.filter((r) => r.argv[0] === "run-one").sort((a, b) => Number(a.env.SLURM_ARRAY_TASK_ID) - Number(b.env.SLURM_ARRAY_TASK_ID));
    expect(runs.map((r) => r.env.SLURM_ARRAY_TASK_ID)).toEqual(["0", "1", "2", "3"]);
    expect(runs.map((r) => r.argv.slice(0, 7))).toEqual(
      [10, 11, 12, 13].map((chunk) => ["run-one", "--submission", base.submissionFile, "--chunk", String(chunk), "--timeout-minutes", "3"]),
    );
    for (const r of runs) {
      expect(r.cwd).toBe(work);
      expect(r.env.CST_BATCH_SUBMISSION).toBe(base.submissionFile);
      expect(r.env.CST_SETUP_RAN).toBe("yes");
      expect(r.env.SLURM_ARRAY_JOB_ID).toBe(arrayId);
      expect(r.env.SLURM_JOB_NAME).toBe("cst it's");
    }

    const collect = records.filter((r) => r.argv[0] === "collect");
    expect(collect).toHaveLength(1);
    expect(collect[0]!.argv).toEqual(["collect", "--out", work]);
    expect(collect[0]!.env.SLURM_JOB_DEPENDENCY).toBe(`afterany:${arrayId}`);
    expect(collect[0]!.time_ms).toBeGreaterThanOrEqual(Math.max(...runs.map((r) => r.time_ms)));

    const logs = readdirSync(logDir).sort();
    expect(logs).toEqual(
      expect.arrayContaining([0, 1, 2, 3].flatMap((i) => [`array_${arrayId}_${i}.out`, `array_${arrayId}_${i}.err`]).concat([`collect_${collectId}.out`])),
    );

    // The status parser on the real squeue output of the finished jobs (kept for MinJobAge).
    const status = await runSchedulerCommand(slurmBackend.statusQueryArgv([arrayId, collectId]));
    expect(status.kind).toBe("ok");
    const rows = slurmBackend.parseStatus(status.kind === "ok" ? status.stdout : "");
    expect(rows.filter((r) => r.jobId === arrayId).map((r) => [r.arrayIndex, r.state]).sort()).toEqual([
      [0, "completed"],
      [1, "completed"],
      [2, "completed"],
      [3, "completed"],
    ]);
    expect(rows.find((r) => r.jobId === collectId)).toMatchObject({ arrayIndex: null, state: "completed" });

    // sacct only answers with accounting (CST_SLURM_ACCOUNTING=1); otherwise it says it is disabled.
    const acct = await runSchedulerCommand(slurmBackend.accountingQueryArgv!([arrayId]));
    if (acct.kind === "ok") {
      // A finished job reaches slurmdbd a moment later; accept what is there, but it must parse.
      const parsed = slurmBackend.parseAccounting!(acct.stdout);
      for (const r of parsed) expect(r.jobId).toBe(arrayId);
    }
  });

  it("the time limit, memory, cpus and name directives reach Slurm; a one-element array runs index 0", async () => {
    const work = path.join(root, "limits");
    mkdirSync(path.join(work, "logs"), { recursive: true });
    const ctx: ArrayScriptContext = {
      jobName: "cst-limits",
      logDir: path.join(work, "logs"),
      workDir: work,
      outDir: work,
      schedulerArgs: [],
      setupLines: [],
      nodeExecutable: process.execPath,
      entryScript: ECHO_ENTRY,
      submissionFile: path.join(work, "s.json"),
      resources: { timeSeconds: 3723, memMiB: 123, cpus: 2, partition: null, account: null, qos: null, gres: null },
      arraySize: 1,
      throttle: null,
      chunkOffset: 0,
      timeoutMinutes: 1,
      signalWarningSeconds: 30,
      container: null,
    };
    const script = path.join(work, "a.sh");
    writeFileSync(script, slurmBackend.renderArrayScript(ctx));
    // --hold: inspect the job as Slurm stored it, then release it and let it run.
    const id = slurmBackend.parseJobId(await submit(["sbatch", "--parsable", "--hold", script], work));
    try {
      const show = await runSchedulerCommand(["scontrol", "show", "job", "-o", `${id}`]);
      expect(show.kind).toBe("ok");
      const text = show.kind === "ok" ? show.stdout : "";
      expect(text).toContain("JobName=cst-limits");
      expect(text).toContain("TimeLimit=01:03:00"); // 3723 s, rendered rounded up to 0-01:03:00
      expect(text).toMatch(/MinMemoryNode=123M/);
      expect(text).toMatch(/CPUs\/Task=2\b/);
      expect(await runSchedulerCommand(["scontrol", "release", id])).toMatchObject({ kind: "ok" });
      await waitForSlurmJobsGone([id], 150_000);
    } finally {
      await runSchedulerCommand(["scancel", id]);
    }
    // A one-element array (--array=0-0) is a real array: index 0, log named with _0.
    const [rec] = readEcho(work);
    expect(rec!.env.SLURM_ARRAY_TASK_ID).toBe("0");
    expect(readdirSync(path.join(work, "logs"))).toContain(`array_${id}_0.out`);
  });

  it.skipIf(!qsubAvailable())("a rendered PBS Pro array runs through Slurm's qsub wrapper with PBS_ARRAY_INDEX", async () => {
    const work = path.join(root, "pbs");
    const logDir = path.join(work, "logs");
    mkdirSync(logDir, { recursive: true });
    const ctx: ArrayScriptContext = {
      jobName: "cstpbs",
      logDir,
      workDir: work,
      outDir: work,
      schedulerArgs: [],
      setupLines: ["export CST_SETUP_RAN=yes"],
      nodeExecutable: process.execPath,
      entryScript: ECHO_ENTRY,
      submissionFile: path.join(work, "sub.json"),
      resources: { timeSeconds: 300, memMiB: 100, cpus: 1, partition: null, account: null, qos: null, gres: null },
      arraySize: 3,
      throttle: null,
      chunkOffset: 5,
      timeoutMinutes: 2,
      signalWarningSeconds: 0,
      container: null,
    };
    const script = path.join(work, "array.sh");
    writeFileSync(script, pbsProBackend.renderArrayScript(ctx));
    // The wrapper ignores #PBS -o/-e (it passes its own -o/-e); run it from `work` so its files land there.
    const id = pbsProBackend.parseJobId(await submit(pbsProBackend.submitArgv(script), work));
    expect(id).toMatch(/^\d+$/); // the wrapper prints a bare id; real PBS Pro prints 48[].server
    await waitForSlurmJobsGone([id], 150_000);
    const runs = readEcho(work).filter((r) => r.argv[0] === "run-one");
    expect(runs.map((r) => [r.env.PBS_ARRAY_INDEX, r.argv[4]]).sort()).toEqual([
      ["0", "5"],
      ["1", "6"],
      ["2", "7"],
    ]);
    for (const r of runs) {
      expect(r.cwd).toBe(work);
      expect(r.env.CST_SETUP_RAN).toBe("yes");
    }
  });
});
