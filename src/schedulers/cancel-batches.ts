import type { CommandOutcome } from "./runner.js";
import type { SchedulerBackend } from "./types.js";

/**
 * How a list of job / array-element ids is split into cancel commands (scancel, qdel, bkill): the
 * one place that decides it, for `cancel` and for a submit's roll-back. One command holding every
 * in-flight element of a 200,000-task study would carry ~4 MB of arguments, past Linux's ARG_MAX
 * (2 MiB with an 8 MiB stack), and its spawn would fail with E2BIG; so each command carries at
 * most `maxIds` ids and `maxBytes` of argument space (why these numbers: docs/architecture.md,
 * "Bounded cancel commands").
 */
export interface CancelBudget {
  /** Ids in one command at most. */
  maxIds: number;
  /** Argument space one command may take (its ids when batching; its whole argv once built), counted as `argSpace` does. */
  maxBytes: number;
}

/** The budget every cancel command is built with: 128 KiB of ids, 5,000 ids at most. */
export const CANCEL_BUDGET: CancelBudget = { maxIds: 5_000, maxBytes: 128 * 1024 };

/** Bytes of execve's argument area one argument takes: its UTF-8 text, the NUL ending it, and its 8-byte pointer. */
export function argSpace(arg: string): number {
  return Buffer.byteLength(arg, "utf8") + 1 + 8;
}

/**
 * `ids` split into batches, in order, each id in exactly one batch, each batch within both
 * budgets; an empty list gives no batch. An id alone over `maxBytes` (no scheduler names one so)
 * still goes, in a batch of its own.
 */
export function cancelBatches(ids: readonly string[], budget: CancelBudget = CANCEL_BUDGET): string[][] {
  if (!(budget.maxIds >= 1) || !(budget.maxBytes >= 1)) throw new RangeError(`cancelBatches: a budget of ${budget.maxIds} ids and ${budget.maxBytes} bytes holds nothing`);
  const batches: string[][] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const id of ids) {
    const size = argSpace(id);
    if (batch.length > 0 && (batch.length >= budget.maxIds || bytes + size > budget.maxBytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(id);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Argument space a whole argv takes (program included), counted as `argSpace` does. */
export function argvSpace(argv: readonly string[]): number {
  let total = 0;
  for (const a of argv) total += argSpace(a);
  return total;
}

/**
 * The cancel commands (argv each) for `ids` on `backend`, in order: the ids are batched first and
 * each batch goes through the backend's `cancelArgv`, so a backend that rewrites ids (LSF's
 * `job[2-4,7]` lists, Grid Engine's `job.task`) only ever sees one batch; the program's own words
 * (`cancelArgv([])`) are taken off the byte budget first. A command whose whole
 * argv still comes out over `maxBytes` (a rewrite that lengthens ids: `12_9` is SGE's `12.10`) is
 * built again from each half of its batch, so no command is over the budget.
 */
export function cancelCommands(backend: Pick<SchedulerBackend, "cancelArgv">, ids: readonly string[], budget: CancelBudget = CANCEL_BUDGET): string[][] {
  const fit = (batch: string[]): string[][] => {
    const argv = backend.cancelArgv(batch);
    if (batch.length <= 1 || argvSpace(argv) <= budget.maxBytes) return [argv];
    const half = Math.ceil(batch.length / 2);
    return [...fit(batch.slice(0, half)), ...fit(batch.slice(half))];
  };
  // The program and fixed options (`cancelArgv([])`) come out of the ids' share.
  const fixed = argvSpace(backend.cancelArgv([]));
  return cancelBatches(ids, { maxIds: budget.maxIds, maxBytes: Math.max(1, budget.maxBytes - fixed) }).flatMap(fit);
}

/**
 * Whether a cancel command that exited non-zero stopped all it could: its answer (stdout and
 * stderr) has lines, and each says an id was stopped or had already ended or was being deleted
 * (the backend's `cancelAnswer`). A task that ends between status and the cancel is common in a
 * large study; Grid Engine's qdel then exits 1 for the whole list, having deleted the rest.
 */
export function onlyGoneIds(backend: Pick<SchedulerBackend, "cancelAnswer">, outcome: CommandOutcome): boolean {
  const answer = backend.cancelAnswer;
  if (answer === undefined || outcome.kind !== "failed" || outcome.signal !== null) return false;
  const lines = `${outcome.stdout}\n${outcome.stderr}`.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return lines.length > 0 && lines.every((l) => answer.test(l));
}
