import { describe, expect, it } from "vitest";
import { argSpace, argvSpace, CANCEL_BUDGET, cancelBatches, cancelCommands, onlyGoneIds, type CancelBudget } from "../../../src/schedulers/cancel-batches.js";
import { pbsProBackend } from "../../../src/schedulers/pbs-pro.js";
import type { CommandOutcome } from "../../../src/schedulers/runner.js";
import { torqueBackend } from "../../../src/schedulers/torque.js";
import { indexRanges, lsfBackend } from "../../../src/schedulers/lsf.js";
import { sgeBackend } from "../../../src/schedulers/sge.js";
import { slurmBackend } from "../../../src/schedulers/slurm.js";

/** Linux's ARG_MAX with the usual 8 MiB stack (`getconf ARG_MAX`): argv and environment together. */
const LINUX_ARG_MAX = 2_097_152;

/** Element ids as status names them for `jobs` array jobs of `perJob` elements each, job ids from `firstJob`. */
function elementIds(jobs: number, perJob: number, firstJob = 48_123_001): string[] {
  const ids: string[] = [];
  for (let j = 0; j < jobs; j++) for (let i = 0; i < perJob; i++) ids.push(`${firstJob + j}_${i}`);
  return ids;
}

/** Ids of mixed lengths (plain jobs, elements with short and long indices), from a fixed seed. */
function mixedIds(n: number): string[] {
  let s = 12345;
  const next = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: n }, (_, k) => (next() % 5 === 0 ? `${next() % 10 ** (1 + (next() % 9))}` : `${next() % 10 ** (1 + (next() % 9))}_${k}`));
}

function idBytes(batch: readonly string[]): number {
  return batch.reduce((t, id) => t + argSpace(id), 0);
}

describe("cancelBatches: ids split into bounded cancel commands", () => {
  it("keeps every id exactly once and in order, and each batch within both the count and the byte budget", () => {
    // short ids fill batches by count, long ones by bytes, the mixed ones in between either way
    const ids = [...Array.from({ length: 3_000 }, (_, k) => `7_${k}`), ...mixedIds(20_000), ...Array.from({ length: 2_000 }, (_, k) => `${"8".repeat(30)}_${k}`)];
    const budget: CancelBudget = { maxIds: 300, maxBytes: 8_000 };
    const batches = cancelBatches(ids, budget);
    expect(batches.flat()).toEqual(ids);
    for (const b of batches) {
      expect(b.length).toBeGreaterThan(0);
      expect(b.length).toBeLessThanOrEqual(budget.maxIds);
      expect(idBytes(b)).toBeLessThanOrEqual(budget.maxBytes);
    }
    // both limits bite in this list: some batches are full by count, some (not the last) end short of it on bytes
    expect(batches.some((b) => b.length === budget.maxIds)).toBe(true);
    expect(batches.slice(0, -1).some((b) => b.length < budget.maxIds)).toBe(true);
  });

  it("200,000 in-flight elements, one argv past ARG_MAX, become many commands each within the default budget", () => {
    const ids = elementIds(1, 200_000);
    expect(argvSpace(["scancel", ...ids])).toBeGreaterThan(LINUX_ARG_MAX);
    const batches = cancelBatches(ids);
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(200_000 / CANCEL_BUDGET.maxIds));
    expect(batches.flat()).toEqual(ids);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(CANCEL_BUDGET.maxIds);
      expect(idBytes(b)).toBeLessThanOrEqual(CANCEL_BUDGET.maxBytes);
    }
  });

  it("the byte budget alone splits long ids: with no count limit a batch stops before the bytes would pass it", () => {
    const ids = Array.from({ length: 1_000 }, (_, k) => `${"9".repeat(40)}_${k}`);
    const batches = cancelBatches(ids, { maxIds: Number.MAX_SAFE_INTEGER, maxBytes: 4_096 });
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat()).toEqual(ids);
    for (const b of batches) expect(idBytes(b)).toBeLessThanOrEqual(4_096);
  });

  it("no ids give no command; one id over the byte budget goes alone", () => {
    expect(cancelBatches([])).toEqual([]);
    expect(cancelCommands(slurmBackend, [])).toEqual([]);
    const long = "1".repeat(100);
    expect(cancelBatches(["1_0", long, "1_2"], { maxIds: 10, maxBytes: 50 })).toEqual([["1_0"], [long], ["1_2"]]);
  });

  it("a budget that holds nothing is refused rather than looping", () => {
    expect(() => cancelBatches(["1"], { maxIds: 0, maxBytes: 100 })).toThrow(RangeError);
    expect(() => cancelBatches(["1"], { maxIds: 10, maxBytes: 0 })).toThrow(RangeError);
  });
});

describe("cancelCommands: each backend's cancel argv built per batch, the whole argv within the budget", () => {
  it("Slurm: scancel commands cancel every element once, each whole argv (program included) within 128 KiB", () => {
    const ids = elementIds(200, 1_000);
    const argvs = cancelCommands(slurmBackend, ids);
    expect(argvs.length).toBeGreaterThan(1);
    for (const a of argvs) {
      expect(a[0]).toBe("scancel");
      expect(argvSpace(a)).toBeLessThanOrEqual(CANCEL_BUDGET.maxBytes);
      expect(a.length - 1).toBeLessThanOrEqual(CANCEL_BUDGET.maxIds);
    }
    expect(argvs.flatMap((a) => a.slice(1))).toEqual(ids);
  });

  it("Grid Engine: `12_9` written as the longer `12.10` still fits (a batch that comes out over is split again)", () => {
    const ids = Array.from({ length: 400 }, (_, k) => `${100 + k}_9`);
    const budget: CancelBudget = { maxIds: 1_000, maxBytes: 1_000 };
    const argvs = cancelCommands(sgeBackend, ids, budget);
    for (const a of argvs) expect(argvSpace(a)).toBeLessThanOrEqual(budget.maxBytes);
    // batches made on the ids came out over the budget once rewritten, and were split again
    expect(argvs.length).toBeGreaterThan(cancelBatches(ids, { maxIds: 1_000, maxBytes: budget.maxBytes - argSpace("qdel") }).length);
    expect(argvs.flatMap((a) => a.slice(1))).toEqual(ids.map((id) => id.replace(/^(\d+)_(\d+)$/, (_m, j, i) => `${j}.${Number(i) + 1}`)));
  });

  it("LSF: elements are batched before bkill groups them as job[index-lists], so every list stays within the budget and names each element once", () => {
    const ids = [...elementIds(3, 90_000, 764_254_593), "2329803"];
    const argvs = cancelCommands(lsfBackend, ids);
    expect(argvs.length).toBeGreaterThan(1);
    const named = new Map<string, number[]>();
    for (const a of argvs) {
      expect(a[0]).toBe("bkill");
      expect(argvSpace(a)).toBeLessThanOrEqual(CANCEL_BUDGET.maxBytes);
      for (const arg of a.slice(1)) {
        const m = /^(\d+)\[([\d,-]+)\]$/.exec(arg);
        if (!m) {
          named.set(arg, [...(named.get(arg) ?? []), -1]);
          continue;
        }
        for (const part of m[2]!.split(",")) {
          const [lo, hi = lo] = part.split("-").map(Number) as [number, number?];
          const list = named.get(m[1]!) ?? [];
          named.set(m[1]!, list);
          for (let i = lo; i <= hi!; i++) list.push(i);
        }
      }
    }
    for (let j = 0; j < 3; j++) expect(indexRanges(named.get(String(764_254_593 + j))!)).toBe("1-90000");
    for (let j = 0; j < 3; j++) expect(named.get(String(764_254_593 + j))).toHaveLength(90_000);
    expect(named.get("2329803")).toEqual([-1]);
  });
});

describe("onlyGoneIds: a cancel command that exited non-zero because some ids had ended already", () => {
  const failed = (stdout: string, stderr = "", exitCode = 1): CommandOutcome => ({ kind: "failed", exitCode, signal: null, stdout, stderr });

  it("Grid Engine: qdel's recorded answer for a list with one task just ended and one unknown job (exit 1) stopped the rest", () => {
    // Recorded on the test Grid Engine (scripts/sge-local-start.sh), 2026-12-03: qdel 34.1 34.2 34.3 99999, task 34.1 deleted before.
    const recorded = 'job "34" task "1" does not exist\nroot has registered the job-array task 34.2 for deletion\nroot has registered the job-array task 34.3 for deletion\ndenied: job "99999" does not exist\n';
    expect(onlyGoneIds(sgeBackend, failed(recorded))).toBe(true);
    expect(onlyGoneIds(sgeBackend, failed("job 33 is already in deletion\nroot has deleted job-array task 35.1\nroot has deleted job 35\n"))).toBe(true);
    // Anything else in the answer is a real failure, and so is an empty one.
    expect(onlyGoneIds(sgeBackend, failed(recorded, "error: commlib error: got select error (Connection refused)\n"))).toBe(false);
    expect(onlyGoneIds(sgeBackend, failed("", ""))).toBe(false);
    expect(onlyGoneIds(sgeBackend, failed('denied: job "34" does not exist\nroot is not allowed to delete job 40\n'))).toBe(false);
    // Only a command that exited: a timeout or a missing program never counts.
    expect(onlyGoneIds(sgeBackend, { kind: "timeout", timeoutMs: 1000, stdout: recorded, stderr: "" })).toBe(false);
    expect(onlyGoneIds(sgeBackend, { kind: "missing", command: "qdel" })).toBe(false);
  });

  it("PBS Pro, Torque and LSF: their answers for ended and unknown jobs; Slurm has none (scancel exits 0 for them)", () => {
    for (const b of [pbsProBackend, torqueBackend]) {
      expect(onlyGoneIds(b, failed("", "qdel: Job has finished 12[3].srv\nqdel: Unknown Job Id 99.srv\n", 35))).toBe(true);
      expect(onlyGoneIds(b, failed("", "qdel: Unknown Job Id Error 99.srv\nqdel: Request invalid for state of job 12[4].srv\n", 153))).toBe(true);
      expect(onlyGoneIds(b, failed("", "qdel: Server could not connect to MOM 12[3].srv\n", 15010))).toBe(false);
      expect(onlyGoneIds(b, failed("", "Connection refused\nqdel: cannot connect to server srv (errno=111)\n", 1))).toBe(false);
    }
    expect(onlyGoneIds(lsfBackend, failed("Job <12[2]> is being terminated\n", "Job <12[3]>: Job has already finished\nJob <99>: No matching job found\n", 255))).toBe(true);
    expect(onlyGoneIds(lsfBackend, failed("", "User permission denied. Job <12[3]> not killed\n", 255))).toBe(false);
    expect(onlyGoneIds(slurmBackend, failed("", "scancel: error: Kill job error on job id 12_3: Invalid job id specified\n"))).toBe(false);
  });
});
