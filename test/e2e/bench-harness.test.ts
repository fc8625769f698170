import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO } from "../helpers/cli.js";

// The harness of bench/ at its smallest size: that it runs through and reports every figure.
// Its figures are not judged here (no timing assertions in tests); the targets live in bench/.

const BENCH = path.join(REPO, "bench", "run.mjs");
const scratch = mkdtempSync(path.join(os.tmpdir(), "cst-bench-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function bench(args: string[]) {
  const r = spawnSync(process.execPath, [BENCH, ...args], { cwd: REPO, encoding: "utf8", timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("npm run bench", () => {
  it("prints a median line for every figure, writes them as JSON and removes its data", { timeout: 200_000 }, () => {
    const json = path.join(scratch, "figures.json");
    const r = bench(["--subjects", "100", "--runs", "1", "--no-slurm", "--json", json]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    for (const n of ["1", "2", "3", "4", "5", "7"]) {
      const line = lines.find((l) => l.startsWith(`${n}. `));
      expect(line, `figure ${n}`).toBeDefined();
      // "<name>   <median> <unit>  |  ..." with a number for the median.
      expect(line, `figure ${n}`).toMatch(/\s\d+(\.\d+)? (ms|s|MB)\s+\|/);
    }
    expect(lines.find((l) => l.startsWith("2. "))).toMatch(/baseline node -e 0 \d/);
    expect(lines.find((l) => l.startsWith("6. "))).toBeUndefined();

    const figures = JSON.parse(readFileSync(json, "utf8")) as { subjects: number; figures: Record<string, Record<string, unknown>> };
    expect(figures.subjects).toBe(100);
    expect(Object.keys(figures.figures).sort()).toEqual(["collect", "collectNoScheduler", "local", "metadata", "plan", "runOne", "runOneRss", "status", "statusEarly"]);
    expect(figures.figures.runOne!.wallMs).toBeGreaterThan(0);
    expect(figures.figures.runOne!.floorMs).toBeGreaterThan(0);
    // Figure 9 counts calls with strace where it is installed.
    if (figures.figures.metadata) expect((figures.figures.metadata.runOne as { total: number }).total).toBeGreaterThan(0);

    const dataDir = /data in (\S+)/.exec(r.stdout)?.[1];
    expect(dataDir).toBeDefined();
    expect(existsSync(dataDir!)).toBe(false);
  });

  it("with too little of its time budget left, figure 6 is skipped and says why (or says Slurm is absent)", () => {
    const r = bench(["--subjects", "100", "--runs", "1", "--only", "6", "--budget-s", "1"]);
    expect(r.code).toBe(0);
    const line = r.stdout.split("\n").find((l) => l.startsWith("6. "));
    expect(line).toMatch(/skipped: \d+ s left of the bench's time budget|n\/a \(no Slurm/);
  });

  it("rejects a bad size or budget with usage, before generating anything", () => {
    for (const args of [["--subjects", "5"], ["--budget-s", "soon"], ["--scale", "500"]]) {
      const r = bench(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/usage: node bench\/run\.mjs/);
    }
  });
});
