import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { pbsProBackend } from "../../../src/schedulers/pbs-pro.js";
import { slurmBackend } from "../../../src/schedulers/slurm.js";
import { torqueBackend } from "../../../src/schedulers/torque.js";
import { lsfBackend } from "../../../src/schedulers/lsf.js";
import { collectContext, plainArrayContext } from "./contexts.js";

const ECHO_ENTRY = fileURLToPath(new URL("../../fixtures/schedulers/echo-entry.mjs", import.meta.url));
const root = mkdtempSync(path.join(os.tmpdir(), "cst-render-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder whose name holds every character a shell could misread. */
function hostileDir(label: string): string {
  const dir = path.join(root, `${label} it's "q" $(touch PWNED) \`touch PWNED\` ü;|&*`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function runScript(script: string, dir: string, env: Record<string, string>): Array<{ argv: string[]; cwd: string; env: Record<string, string> }> {
  const file = path.join(dir, "job.sh");
  writeFileSync(file, script, { mode: 0o755 });
  execFileSync("bash", [file], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, ...env }, cwd: root, stdio: "pipe" });
  const echoDir = path.join(dir, "echo");
  return readdirSync(echoDir).map((f) => JSON.parse(readFileSync(path.join(echoDir, f), "utf8")));
}

describe("a rendered script hands hostile values to cst-batch byte for byte", () => {
  const cases = [
    ["slurm", slurmBackend, { SLURM_ARRAY_TASK_ID: "2" }],
    ["pbs", pbsProBackend, { PBS_ARRAY_INDEX: "2" }],
    ["torque", torqueBackend, { PBS_ARRAYID: "2" }],
    // LSF indices start at 1: LSB_JOBINDEX 3 is array index 2
    ["lsf", lsfBackend, { LSB_JOBINDEX: "3" }],
  ] as const;

  it.each(cases)("%s array script: cd, export, exec argv, chunk = offset + index", (dialect, backend, env) => {
    const dir = hostileDir(dialect);
    const submission = path.join(dir, "sub\nmission's $(x).json");
    const logDir = dialect === "slurm" ? dir : path.join(root, "logs");
    const ctx = plainArrayContext({
      workDir: dir,
      outDir: dir,
      logDir,
      nodeExecutable: process.execPath,
      entryScript: ECHO_ENTRY,
      submissionFile: submission,
      chunkOffset: 40,
      setupLines: ["export CST_SETUP_RAN=yes"],
      container: { image: "/img/it's $(x).sif", runtime: "apptainer" },
    });
    const [rec] = runScript(backend.renderArrayScript(ctx), dir, env);
    expect(rec).toBeDefined();
    expect(rec!.argv).toEqual([
      "run-one",
      "--submission",
      submission,
      "--chunk",
      "42",
      "--timeout-minutes",
      "90",
      "--container-runtime",
      "apptainer",
      "--container-image",
      "/img/it's $(x).sif",
    ]);
    expect(rec!.cwd).toBe(dir);
    expect(rec!.env.CST_BATCH_SUBMISSION).toBe(submission);
    expect(rec!.env.CST_SETUP_RAN).toBe("yes");
    expect(readdirSync(dir)).not.toContain("PWNED");
    expect(readdirSync(root)).not.toContain("PWNED");
  });

  it.each(cases)("%s collect script runs collect --out <dir>", (dialect, backend) => {
    const dir = hostileDir(`${dialect}-collect`);
    const ctx = collectContext(
      plainArrayContext({ workDir: dir, outDir: dir, logDir: dialect === "slurm" ? dir : path.join(root, "logs"), nodeExecutable: process.execPath, entryScript: ECHO_ENTRY }),
    );
    const [rec] = runScript(backend.renderCollectScript(ctx), dir, {});
    expect(rec!.argv).toEqual(["collect", "--out", dir]);
  });

  it("an array script run outside an array stops with exit 2 before cst-batch starts", () => {
    const dir = hostileDir("noarray");
    const script = slurmBackend.renderArrayScript(
      plainArrayContext({ workDir: dir, outDir: dir, logDir: dir, nodeExecutable: process.execPath, entryScript: ECHO_ENTRY }),
    );
    const file = path.join(dir, "job.sh");
    writeFileSync(file, script);
    let status: number | null = null;
    try {
      execFileSync("bash", [file], { env: { PATH: process.env.PATH ?? "" }, stdio: "pipe" });
    } catch (e) {
      status = (e as { status: number }).status;
    }
    expect(status).toBe(2);
  });

  it("an LSF array script outside an LSF array (no LSB_JOBINDEX) stops with exit 2 before cst-batch starts", () => {
    const dir = hostileDir("lsf-noarray");
    const file = path.join(dir, "job.sh");
    writeFileSync(file, lsfBackend.renderArrayScript(plainArrayContext({ workDir: dir, outDir: dir, logDir: path.join(root, "logs"), nodeExecutable: process.execPath, entryScript: ECHO_ENTRY })));
    let status: number | null = null;
    try {
      execFileSync("bash", [file], { env: { PATH: process.env.PATH ?? "" }, stdio: "pipe" });
    } catch (e) {
      status = (e as { status: number }).status;
    }
    expect(status).toBe(2);
    expect(readdirSync(dir)).not.toContain("echo");
  });

  it("a single-chunk PBS Pro job runs chunk offset + 0 without PBS_ARRAY_INDEX", () => {
    const dir = hostileDir("pbs-single");
    const ctx = plainArrayContext({ arraySize: 1, chunkOffset: 7, workDir: dir, outDir: dir, logDir: path.join(root, "logs"), nodeExecutable: process.execPath, entryScript: ECHO_ENTRY });
    const [rec] = runScript(pbsProBackend.renderArrayScript(ctx), dir, {});
    expect(rec!.argv.slice(3, 5)).toEqual(["--chunk", "7"]);
  });
});
