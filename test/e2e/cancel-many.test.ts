import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { CANCEL_BUDGET } from "../../src/schedulers/cancel-batches.js";
import { makeDemoBids, runCli, startCli, STANDIN, tempDir } from "../helpers/cli.js";
import { linkBasicTools } from "../helpers/fake-scheduler.js";

/**
 * `cst-batch cancel` of a study with more queued elements than one command line can hold, through
 * the built CLI. Slurm's programs are faked on PATH (node scripts): sbatch answers 1001, 1002, ...;
 * sacct prints `queue.txt` (the array's pending remainder, as sacct lists it); scancel logs, per
 * call, how many ids it got and the argument space its argv took, appends the ids to
 * `cancelled.txt`, and empties the queue; with `fail-on` holding k, its k-th call fails.
 */
const FAKE = `#!/usr/bin/env node
const fs = require("node:fs");
const path = require("node:path");
const dir = path.dirname(process.argv[1]);
const name = path.basename(process.argv[1]);
const args = process.argv.slice(2);
const read = (f, d) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : d);
if (name === "sbatch") {
  const n = Number(read("count", "0")) + 1;
  fs.writeFileSync(path.join(dir, "count"), String(n));
  process.stdout.write(String(1000 + n) + "\\n");
} else if (name === "scontrol") {
  process.stdout.write("MaxArraySize = 1000001\\n");
} else if (name === "sacct") {
  process.stdout.write(read("queue.txt", ""));
} else if (name === "scancel") {
  const call = Number(read("scancel-count", "0")) + 1;
  fs.writeFileSync(path.join(dir, "scancel-count"), String(call));
  const space = ["scancel", ...args].reduce((t, a) => t + Buffer.byteLength(a) + 1 + 8, 0);
  fs.appendFileSync(path.join(dir, "scancel.jsonl"), JSON.stringify({ call, ids: args.length, space }) + "\\n");
  if (read("fail-on", "") === String(call)) {
    process.stderr.write("scancel: error: Unable to contact slurm controller (connect failure)\\n");
    process.exit(1);
  }
  fs.appendFileSync(path.join(dir, "cancelled.txt"), args.join("\\n") + "\\n");
  fs.writeFileSync(path.join(dir, "queue.txt"), "");
}
`;

interface ScancelCall {
  call: number;
  ids: number;
  space: number;
}

/** A study of `n` subjects (one manifest NIfTI shared by all) submitted to the fake Slurm as one array of `n` elements, all pending. */
function submittedStudy(prefix: string, n: number) {
  const dir = tempDir(prefix);
  const bin = path.join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  linkBasicTools(bin);
  for (const name of ["sbatch", "scontrol", "sacct", "squeue", "scancel"]) {
    writeFileSync(path.join(bin, name), FAKE);
    chmodSync(path.join(bin, name), 0o755);
  }
  const bids = makeDemoBids(path.join(dir, "bids"));
  const nifti = path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz");
  const subjects = Array.from({ length: n }, (_, i) => ({ id: `sub-${String(i).padStart(6, "0")}`, nifti }));
  const manifest = path.join(dir, "study.json");
  writeFileSync(manifest, JSON.stringify({ schema_version: 1, subjects }));
  const out = path.join(dir, "out");
  const env = { PATH: bin, XDG_CONFIG_HOME: path.join(dir, "xdg") };
  const sub = runCli(["submit", "--manifest", manifest, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--scheduler", "slurm", "--time", "1h", "--no-profile"], {
    env,
    timeoutMs: 300_000,
  });
  expect(sub.code, sub.stderr).toBe(EXIT.OK);
  expect(Number(readFileSync(path.join(bin, "count"), "utf8"))).toBe(2); // the array (1001) and collect (1002)
  writeFileSync(path.join(bin, "queue.txt"), `1001_[0-${n - 1}]|1001|PENDING|0:0|00:00:00||None assigned\n`);
  const ids = Array.from({ length: n }, (_, i) => `1001_${i}`);
  const calls = (): ScancelCall[] =>
    existsSync(path.join(bin, "scancel.jsonl"))
      ? readFileSync(path.join(bin, "scancel.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as ScancelCall)
      : [];
  const cancelled = (): string[] => (existsSync(path.join(bin, "cancelled.txt")) ? readFileSync(path.join(bin, "cancelled.txt"), "utf8").trim().split("\n") : []);
  return { dir, bin, out, env, ids, calls, cancelled };
}

describe("cst-batch cancel with more elements in flight than one command line holds", () => {
  it("cancels 120,000 queued elements, whose one scancel would fail with E2BIG, in bounded scancel calls that name every element exactly once", async () => {
    const t0 = Date.now();
    const s = submittedStudy("cst-cancel-many-", 120_000);
    const submitted = Date.now();
    // the one command the old cancel ran cannot even be started here
    const one = spawnSync(path.join(s.bin, "scancel"), s.ids, { env: { ...process.env, ...s.env } });
    expect((one.error as NodeJS.ErrnoException | undefined)?.code).toBe("E2BIG");
    expect(s.calls()).toEqual([]);

    // startCli, not runCli: the --json answer (every target) is larger than spawnSync's buffer
    const c = await startCli(["cancel", "--out", s.out, "--wait", "5", "--json"], { env: s.env }).done;
    const cancelledAt = Date.now();
    expect(c.code, c.stderr).toBe(EXIT.OK);
    const j = JSON.parse(c.stdout);
    expect(j.kind).toBe("cancelled");
    expect(j.targets).toHaveLength(120_000);
    expect(j.still_in_flight).toEqual([]);

    const calls = s.calls();
    expect(calls.length).toBeGreaterThanOrEqual(Math.ceil(120_000 / CANCEL_BUDGET.maxIds));
    for (const call of calls) {
      expect(call.ids).toBeLessThanOrEqual(CANCEL_BUDGET.maxIds);
      expect(call.space).toBeLessThanOrEqual(CANCEL_BUDGET.maxBytes);
    }
    // every command is in the result, in the order sent, and each one's ids are what scancel got
    expect(j.commands.map((x: { outcome: string }) => x.outcome)).toEqual(calls.map(() => "ok"));
    expect(j.commands.map((x: { argv: string[] }) => x.argv.length - 1)).toEqual(calls.map((x) => x.ids));
    const cancelled = s.cancelled();
    expect(cancelled).toHaveLength(120_000);
    expect(new Set(cancelled).size).toBe(120_000);
    expect([...cancelled].sort()).toEqual([...s.ids].sort());
    // Seen by the test's timing: study set-up (plan + submit of 120,000 tasks), then the cancel itself.
    console.log(`cancel-many: submit ${((submitted - t0) / 1000).toFixed(1)} s, cancel ${((cancelledAt - submitted) / 1000).toFixed(1)} s, ${calls.length} scancel calls`);
    rmSync(s.dir, { recursive: true, force: true }); // ~185 MB of study
  }, 400_000);

  it("the human answer of a cancel of 26,000 queued tasks fits a screen: ten tasks, the rest counted by what they came to, the commands counted past five", async () => {
    const s = submittedStudy("cst-cancel-human-", 26_000);
    const c = runCli(["cancel", "--out", s.out, "--wait", "0"], { env: s.env });
    expect(c.code, c.stderr).toBe(EXIT.OK);
    const lines = c.stderr.trim().split("\n");
    expect(lines.length).toBeLessThanOrEqual(20);
    expect(lines.filter((l) => /^ {2}sub-\d+: pending-in-queue \(1001_\d+\) -> /.test(l))).toHaveLength(10);
    expect(c.stderr).toMatch(/ {2}\.\.\. and 25990 more \(pending-in-queue -> [^:]+: 25990; --json lists each\)/);
    // six commands of <= 5,000 ids: four shown, two counted
    expect(lines.filter((l) => l.startsWith("scancel "))).toHaveLength(4);
    expect(c.stderr).toContain("... and 2 more command(s): 2 ok (--json has each)");
    expect(s.calls()).toHaveLength(6);
    expect(c.stderr).toContain("cancelled 26000 task(s)");
    expect(s.cancelled()).toHaveLength(26_000);
    rmSync(s.dir, { recursive: true, force: true });
  }, 300_000);

  it("a scancel that fails part-way stops the cancel with the scheduler's error and the rerun hint; the rerun sends every batch again and finishes", async () => {
    const s = submittedStudy("cst-cancel-fail-", 12_000);
    writeFileSync(path.join(s.bin, "fail-on"), "2");
    const failed = runCli(["cancel", "--out", s.out, "--wait", "0"], { env: s.env });
    expect(failed.code).toBe(EXIT.SYSTEM);
    expect(failed.stderr).toContain("Unable to contact slurm controller");
    expect(failed.stderr).toContain("cancel command 2 of 3 for slurm");
    expect(failed.stderr).toContain(`cst-batch cancel --out ${s.out}\` again (it is safe to repeat)`);
    expect(s.calls().map((x) => x.call)).toEqual([1, 2]); // stopped at the failed one
    expect(s.cancelled()).toHaveLength(5_000);

    // the first call emptied the fake queue; put the study back in flight as the scheduler still has it
    writeFileSync(path.join(s.bin, "queue.txt"), `1001_[0-11999]|1001|PENDING|0:0|00:00:00||None assigned\n`);
    const again = await startCli(["cancel", "--out", s.out, "--wait", "0", "--json"], { env: s.env }).done;
    expect(again.code, again.stderr).toBe(EXIT.OK);
    expect(JSON.parse(again.stdout).commands.map((x: { argv: string[] }) => x.argv.length - 1)).toEqual([5_000, 5_000, 2_000]);
    const cancelled = s.cancelled();
    expect(cancelled).toHaveLength(17_000); // the first 5,000 twice (harmless), every element at least once
    expect(new Set(cancelled)).toEqual(new Set(s.ids));
    rmSync(s.dir, { recursive: true, force: true });
  }, 240_000);
});
