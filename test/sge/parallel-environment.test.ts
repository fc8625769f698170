import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readJson, STANDIN, startCli, tempDir } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";
import { requireSgeOrSkip, sgeWrapperBin, waitForSgeJobsGone } from "../helpers/sge-env.js";

/**
 * `--cpus 2` on the real Grid Engine of scripts/sge-local-start.sh (its PE `smp`), through the
 * BUILT CLI: the script asks `-pe smp 2` with the memory per slot, and csttool runs with its
 * thread variables at the 2 slots Grid Engine granted (NSLOTS), as LSB_DJOB_NUMPROC / NCPUS /
 * SLURM_CPUS_PER_TASK do elsewhere. ~15 s.
 */
const haveSge = requireSgeOrSkip();

describe.skipIf(!haveSge)("cst-batch --cpus on a real Grid Engine parallel environment", { timeout: 180_000 }, () => {
  it("a -pe smp 2 task gives csttool 2 threads (NSLOTS) and asks for its memory per slot", async () => {
    const dir = tempDir("cst-sge-pe-");
    const bids = await makeBidsDataset(path.join(dir, "bids"), [{ id: "sub-01" }]);
    const profile = path.join(dir, "profile.json");
    writeFileSync(profile, JSON.stringify({ scheduler: "sge", sge_pe: "smp", sge_memory_resource: "h_vmem" }));
    const argvLog = path.join(dir, "argv.jsonl");
    const out = path.join(dir, "out");
    const bin = sgeWrapperBin(path.join(dir, "bin"));
    const env = { ...bin.env, CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };

    const sub = await startCli(["submit", "--profile", profile, "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--json", "--skip-disk-check", "--cpus", "2", "--mem", "4G", "--time", "5m"], { env }).done;
    expect(sub.code, sub.stderr).toBe(0);
    const json = JSON.parse(sub.stdout) as { submission_id: string; job_ids: string[]; collect_job_id: string; warnings: string[] };
    expect(json.warnings.join("\n")).toMatch(/h_vmem is a per-slot limit/);
    const script = readFileSync(path.join(out, ".cst-batch", "submissions", json.submission_id, "array-0.sh"), "utf8");
    expect(script).toContain("#$ -pe smp 2");
    expect(script).toContain("#$ -l h_vmem=2048M");
    await waitForSgeJobsGone([json.job_ids[0]!, json.collect_job_id], 150_000);

    const calls = readFileSync(argvLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { argv: string[]; threads: Record<string, string | null> });
    const run = calls.find((c) => c.argv[0] === "run" && !c.argv.includes("--help"));
    expect(run?.threads).toMatchObject({ OMP_NUM_THREADS: "2", OPENBLAS_NUM_THREADS: "2" });
    expect(readFileSync(path.join(out, "logs", "sub-01.log"), "utf8")).toMatch(/threads: 2 CPU\(s\) \(NSLOTS\)/);
    expect(readJson<{ counts: Record<string, number> }>(path.join(out, "batch_summary.json")).counts).toMatchObject({ total: 1, success: 1 });
  });
});
