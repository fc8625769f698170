import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * A full garbage collection, now, between two phases of a command on a large study: between
 * planning and submitting (src/submit/submit-study.ts), and in the planner after discovery and
 * after the done records are read (a re-plan of 200,000 done subjects: 370 MB peak RSS against
 * 404 MB without; docs/scale.md). Planning 200,000 tasks leaves ~300 MB of garbage in the old
 * generation, and V8 collects it only when the heap next reaches the limit it set while planning:
 * everything the submit then allocates came on top of it (474 MB peak RSS at 200,000 tasks
 * against 347 MB with this collection; docs/scale.md). Node has no call for it without
 * `--expose-gc`, so the flag is set at run time and `gc` taken from a new context (as Jest's
 * `--logHeapUsage` does). Where that is refused, nothing happens. `resubmit` calls it too, once
 * status has been read (src/resubmit/resubmit.ts: 348 MB against 418-455 MB with 6,000 of 200,000
 * tasks selected), and `collect` every 10,000 subjects read (src/collect/collect.ts).
 */
let gc: (() => void) | null | undefined;

/**
 * Below this many tasks nothing is collected: the heap is tens of MB, V8 keeps it in bounds by
 * itself, and a forced collection (a new context and a full GC, ~20-40 ms at 10,000 tasks) would
 * be pure cost (bench figure 1).
 */
export const COLLECT_FROM_TASKS = 20_000;

/** A full collection now, when the study has `tasks` tasks, at least COLLECT_FROM_TASKS. */
export function collectGarbage(tasks: number): void {
  if (tasks < COLLECT_FROM_TASKS) return;
  if (gc === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      const found: unknown = runInNewContext("typeof gc === 'function' ? gc : null");
      gc = typeof found === "function" ? (found as () => void) : null;
    } catch {
      gc = null;
    }
  }
  gc?.();
}
