import { describe, expect, it } from "vitest";
import { shardChunks } from "../../../src/schedulers/max-array-size.js";
import { laneShares, planThrottleLanes } from "../../../src/submit/throttle-lanes.js";

/** The most elements that can run at once: per lane only one shard runs, at its share. */
function worstCaseConcurrent(plan: ReturnType<typeof planThrottleLanes>): number {
  const perLane = new Map<number, number>();
  for (const p of plan) perLane.set(p.lane!, Math.max(perLane.get(p.lane!) ?? 0, p.throttle!));
  return [...perLane.values()].reduce((a, b) => a + b, 0);
}

describe("a study-wide --array-throttle split over shards", () => {
  it("10 chunks, throttle 2, max array size 4: two lanes of 1, the third shard waits for a lane's previous one", () => {
    const plan = planThrottleLanes(shardChunks(10, 4), 2);
    expect(plan.map((p) => p.throttle)).toEqual([1, 1, 1]);
    expect(plan[0]!.after).toBeNull();
    expect(plan[1]!.after).toBeNull();
    expect(plan[2]!.after).not.toBeNull();
    expect(plan[2]!.lane).toBe(plan[plan[2]!.after!]!.lane);
    expect(worstCaseConcurrent(plan)).toBe(2);
  });

  it("more throttle than shards: every shard runs at once with shares summing to N", () => {
    const plan = planThrottleLanes(shardChunks(10, 4), 7);
    expect(plan.map((p) => p.after)).toEqual([null, null, null]);
    expect(plan.reduce((a, p) => a + p.throttle!, 0)).toBe(7);
    expect(new Set(plan.map((p) => p.lane)).size).toBe(3);
  });

  it("never exceeds N and every lane's chain is in plan order, for many shapes", () => {
    for (let n = 1; n <= 9; n++) {
      for (const [chunks, max] of [[1, 1], [5, 1], [10, 4], [23, 5], [100, 7], [3, 10]] as const) {
        const shards = shardChunks(chunks, max);
        const plan = planThrottleLanes(shards, n);
        expect(worstCaseConcurrent(plan)).toBeLessThanOrEqual(n);
        plan.forEach((p, s) => {
          if (p.after !== null) {
            expect(p.after).toBeLessThan(s);
            expect(plan[p.after]!.lane).toBe(p.lane);
            // nothing else in the lane between the two
            expect(plan.slice(p.after + 1, s).some((q) => q.lane === p.lane)).toBe(false);
          }
        });
        // one shard at the head of each lane
        expect(plan.filter((p) => p.after === null).length).toBe(Math.min(n, shards.length));
      }
    }
  });

  it("shares differ by at most one and sum to N", () => {
    expect(laneShares(5, 2)).toEqual([3, 2]);
    expect(laneShares(2, 2)).toEqual([1, 1]);
    expect(laneShares(7, 3)).toEqual([3, 2, 2]);
  });

  it("no throttle: no lanes, no waiting", () => {
    expect(planThrottleLanes(shardChunks(10, 4), null)).toEqual([
      { throttle: null, lane: null, after: null },
      { throttle: null, lane: null, after: null },
      { throttle: null, lane: null, after: null },
    ]);
  });
});
