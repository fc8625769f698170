import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, tempDir } from "../helpers/cli.js";
import { linkBasicTools } from "../helpers/fake-scheduler.js";
import { requireSgeOrSkip, SGE_BIN } from "../helpers/sge-env.js";

/**
 * `--scheduler auto` on the real Grid Engine of scripts/sge-local-start.sh, through the BUILT CLI,
 * with a PATH of node/sh/bash/env/flock and Grid Engine's clients only (no sbatch, no Slurm qsub
 * wrapper): auto asks `qstat --version`, Son of Grid Engine answers with its usage, and the dry run
 * reads the site's max_aj_tasks with `qconf -sconf`.
 */
const haveSge = requireSgeOrSkip();

describe.skipIf(!haveSge)("--scheduler auto with only Grid Engine's clients on PATH", () => {
  it("picks sge from the real qstat's answer and reads max_aj_tasks from the real qconf; the dry run writes nothing", () => {
    const dir = tempDir("cst-sge-auto-");
    const bin = path.join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    linkBasicTools(bin);
    const out = path.join(dir, "out");
    const r = runCli(["submit", "--scheduler", "auto", "--bids-dir", makeDemoBids(path.join(dir, "bids")), "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--no-profile", "--time", "1h", "--dry-run", "--json"], {
      env: { PATH: `${bin}:${SGE_BIN}`, XDG_CONFIG_HOME: path.join(dir, "xdg") },
    });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    expect(r.stderr).toMatch(/--scheduler auto: using sge \(qstat --version: SGE 8\.1\.9\)/);
    const j = JSON.parse(r.stdout) as { scheduler: string; warnings: string[]; submission: { resources: { max_array_size: number; max_array_size_source: string } } };
    expect(j.scheduler).toBe("sge");
    expect(j.submission.resources).toMatchObject({ max_array_size: 75000, max_array_size_source: "qconf" });
    expect(j.warnings.join("\n")).not.toMatch(/max_aj_tasks/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
