import { CstError } from "../errors.js";
import type { Shard } from "../schedulers/max-array-size.js";

/**
 * A study-wide `--array-throttle N` over several array jobs (shards beyond the site's
 * MaxArraySize). A scheduler's `%N` limits ONE array job, so N is split into lanes:
 *
 * - `min(N, shards)` lanes; lane l may run `share_l` elements at once, the shares sum to N
 *   (N = 5 over 2 lanes: 3 + 2).
 * - Every shard belongs to one lane and is throttled to its lane's share (`0-999%3`).
 * - Shards of the same lane run one after another: each waits (`afterany`) for the lane's
 *   previous shard, so a lane never has two shards running.
 * - The first shards open one lane each; the rest are given, in plan order, to the lane that would
 *   finish its work first at its share (least elements per allowed slot), so lanes end at about
 *   the same time when tasks are even.
 *
 * So at any moment at most sum(share) = N elements of this submission run. Earlier submissions
 * of the study still in the queue are handled by `inFlightDependencies` (submit.ts): the first
 * shard of every lane also waits for them.
 *
 * Cost (documented in docs/throttle.md): a lane's slots are its own. When tasks are uneven, a
 * lane whose shard has a few slow elements left keeps its other slots idle until that shard ends
 * (the next shard of the lane waits for the whole shard), and a lane that ran out of work does not
 * lend its slots to another lane. The study never runs MORE than N; it may run fewer near the
 * end of a shard.
 */

export interface ShardThrottle {
  /** `%share` for this shard's array spec; null = no throttle. */
  throttle: number | null;
  /** Lane number (0-based); null when there is no throttle. */
  lane: number | null;
  /** Index of the shard this one waits for (the lane's previous shard); null = starts at once. */
  after: number | null;
}

export function laneShares(throttle: number, lanes: number): number[] {
  const base = Math.floor(throttle / lanes);
  const extra = throttle % lanes;
  return Array.from({ length: lanes }, (_, l) => base + (l < extra ? 1 : 0));
}

/** One entry per shard (same order). */
export function planThrottleLanes(shards: readonly Shard[], throttle: number | null): ShardThrottle[] {
  if (throttle === null) return shards.map(() => ({ throttle: null, lane: null, after: null }));
  if (!Number.isSafeInteger(throttle) || throttle < 1) {
    throw new CstError("USAGE", `--array-throttle must be a whole number >= 1, found ${String(throttle)}`);
  }
  const nLanes = Math.min(throttle, shards.length);
  const shares = laneShares(throttle, nLanes);
  const load = new Array<number>(nLanes).fill(0);
  const last = new Array<number | null>(nLanes).fill(null);
  return shards.map((shard, s) => {
    // The first shards open one lane each (an empty lane would waste its share), the rest go greedy.
    let best = s < nLanes ? s : 0;
    for (let l = 1; s >= nLanes && l < nLanes; l++) {
      if ((load[l]! + shard.count) / shares[l]! < (load[best]! + shard.count) / shares[best]!) best = l;
    }
    const entry: ShardThrottle = { throttle: shares[best]!, lane: best, after: last[best]! };
    load[best] = load[best]! + shard.count;
    last[best] = s;
    return entry;
  });
}
