import { describe, expect, it } from "vitest";
import { isCstError } from "../../../src/errors.js";
import { layoutArrays, makeChunks } from "../../../src/submit/chunks.js";
import { minimumWalltimeSeconds, PROMOTION_ALLOWANCE_SECONDS, resolveTiming, warningWindowSeconds } from "../../../src/submit/timing.js";

const base = { explicitTimeoutMinutes: null, planTimeoutMinutes: 120, graceSeconds: 30, chunkSize: 1 };

describe("per-subject timeout from the walltime", () => {
  it("T = W - S - (G + P) for one subject per task, S = 5% of W within 30 s..300 s", () => {
    const t = resolveTiming({ ...base, walltimeSeconds: 3600 });
    expect(t.warningSeconds).toBe(180);
    expect(t.timeoutSource).toBe("walltime");
    expect(t.timeoutMinutes).toBe((3600 - 180 - 30 - PROMOTION_ALLOWANCE_SECONDS) / 60);
    expect(warningWindowSeconds(60)).toBe(30);
    expect(warningWindowSeconds(24 * 3600)).toBe(300);
  });

  it("a chunk of K subjects splits the walltime: each gets (W - S)/K - (G + P)", () => {
    const t = resolveTiming({ ...base, walltimeSeconds: 4 * 3600, chunkSize: 4 });
    const S = 300;
    expect(t.timeoutMinutes).toBe(Math.floor(((Math.floor((4 * 3600 - S - 4 * 45) / 4) / 60) * 100)) / 100);
    // K subjects at the full timeout, their grace and records, and the warning window fit in W
    expect(4 * (t.timeoutMinutes * 60 + 30 + PROMOTION_ALLOWANCE_SECONDS) + S).toBeLessThanOrEqual(4 * 3600);
  });

  it("a walltime too short to leave a minute per subject is an error naming the minimum", () => {
    let err: unknown;
    try {
      resolveTiming({ ...base, walltimeSeconds: 60 });
    } catch (e) {
      err = e;
    }
    expect(isCstError(err) && err.code === "USAGE").toBe(true);
    const min = minimumWalltimeSeconds(1, 30);
    expect((err as { hint: string }).hint).toContain("00:03:00");
    expect(() => resolveTiming({ ...base, walltimeSeconds: min })).not.toThrow();
    expect(() => resolveTiming({ ...base, walltimeSeconds: 10 * 60, chunkSize: 8 })).toThrow(/too short for 8 subject/);
  });

  it("without --time the walltime is derived from the plan's timeout and rounded up to minutes", () => {
    const t = resolveTiming({ ...base, walltimeSeconds: null, planTimeoutMinutes: 120, chunkSize: 2 });
    expect(t.walltimeSource).toBe("derived");
    expect(t.timeoutMinutes).toBe(120);
    expect(t.walltimeSeconds % 60).toBe(0);
    expect(t.walltimeSeconds).toBeGreaterThanOrEqual(2 * (7200 + 45) + t.warningSeconds);
    expect(t.walltimeSeconds - 60).toBeLessThan(2 * (7200 + 45) + t.warningSeconds);
    expect(t.notes.join("\n")).toMatch(/no --time given/);
  });

  it("an explicit --timeout-minutes wins; one that does not fit the walltime is a warning", () => {
    const fits = resolveTiming({ ...base, walltimeSeconds: 3600, explicitTimeoutMinutes: 30 });
    expect(fits).toMatchObject({ timeoutMinutes: 30, timeoutSource: "explicit", warnings: [] });
    const long = resolveTiming({ ...base, walltimeSeconds: 3600, explicitTimeoutMinutes: 60 });
    expect(long.timeoutMinutes).toBe(60);
    expect(long.warnings[0]).toMatch(/does not fit/);
  });
});

describe("chunks and shards", () => {
  it("pending indices are grouped in plan order, K per chunk, the last chunk shorter", () => {
    expect(makeChunks([7, 1, 3, 4, 9], 2)).toEqual([[1, 3], [4, 7], [9]]);
    expect(makeChunks([], 3)).toEqual([]);
    expect(() => makeChunks([1], 0)).toThrow(/--chunk-size/);
  });

  it("arrays above the size limit are split into shards whose indices stay below the limit", () => {
    const pending = Array.from({ length: 25 }, (_, i) => i * 2);
    const { chunks, shards } = layoutArrays(pending, 2, 5);
    expect(chunks).toHaveLength(13);
    expect(shards).toEqual([
      { first_chunk: 0, count: 5 },
      { first_chunk: 5, count: 5 },
      { first_chunk: 10, count: 3 },
    ]);
    // every chunk is covered exactly once
    const covered = shards.flatMap((s) => Array.from({ length: s.count }, (_, k) => s.first_chunk + k));
    expect(covered).toEqual(chunks.map((_, i) => i));
    expect(chunks.flat()).toEqual(pending);
  });
});
