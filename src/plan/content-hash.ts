import { createHash } from "node:crypto";
import { createReadStream, readFileSync, statSync } from "node:fs";
import type { PlanTask } from "../schemas/plan.js";
import type { InputHash } from "../schemas/records.js";
import { collectGarbage } from "../util/collect-garbage.js";
import { mapLimit } from "../util/map-limit.js";
import { CompactNiftiInput, compactInput } from "./compact-input.js";
import { HASH_SHARDS, shardOfTask, type HashCache } from "./hash-cache.js";
import { seriesDigest } from "./dicom-digest.js";
import { selectDicomSeriesFiles } from "./dicom.js";
import type { ChangeReasons } from "./change-reasons.js";
import { doneHashOf, type PreviousPlan, type ResumeInfo } from "./replan.js";
import { doneResume, recordedInputHashes } from "./resume-states.js";

/**
 * Content, not timestamps: a done subject whose input files kept their size but got a new mtime
 * (`touch`, a copy without -p, a restore) stays done when their bytes are the same. run-one
 * records the sha-256 of the bytes csttool ran on in the subject's `_done.json` (`input_hashes`,
 * src/run/input-hashes.ts); a later plan that sees only mtimes changed hashes the files as they
 * are now and keeps the task as it was planned when every hash matches. Hashes of files as they
 * are now are cached by path, size, mtime and inode in `.cst-batch/input-hashes/` (written by a
 * plan only, shard by shard: src/plan/hash-cache.ts), so a touched file is read once; done
 * records written before run-one recorded hashes (older studies) get their inputs hashed by the
 * first plan after they are done. Tasks are visited shard by shard (one shard in memory).
 */

/**
 * A full collection every this many shards read (a study of 20,000 tasks or more): each shard read
 * outlives the young generation, and V8 let 64 of them pile up in the old one (594 MB at 200,000
 * subjects against ~370 MB collected every 4; docs/scale.md).
 */
const COLLECT_EVERY_SHARDS = 4;

/** Files hashed at once: reading is the cost, two streams keep a disk busy. */
const HASH_CONCURRENCY = 2;

function keyOf(file: { path: string; size: number; mtime_ms: number }): string {
  return `${file.path}\u0000${file.size}\u0000${file.mtime_ms}`;
}

/**
 * The cache key of a proof (its entry's `sha256`: the done record's config hash): the task with this
 * config hash, its inputs as they are now, was proven to hold the bytes the done task ran on. A
 * later plan that finds the same task (same paths, sizes, mtimes, options) takes it without
 * reading the record or the files again: the trust every untouched task's identity gets.
 */
function proofKeyOf(task: PlanTask): string {
  return `same\u0000${task.config_hash}`;
}

/** Files up to this size are read and hashed in one blocking read: ~50x cheaper than a stream each (docs/scale.md). */
const READ_WHOLE_BYTES = 1 << 20;

/** sha-256 of a file's bytes (`size`: its size when known): small files in one read, others streamed. */
export async function fileSha256(file: string, size?: number): Promise<string> {
  if (size !== undefined && size <= READ_WHOLE_BYTES) return createHash("sha256").update(readFileSync(file)).digest("hex");
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The hash of a file as it is now (from the cache when path, size, mtime and inode match). */
async function currentHash(cache: HashCache, file: string): Promise<string> {
  const st = statSync(file);
  const key = keyOf({ path: file, size: st.size, mtime_ms: st.mtimeMs });
  const hit = cache.get(key);
  if (hit !== undefined && hit.ino === st.ino) return hit.sha256;
  const sha256 = await fileSha256(file, st.size);
  cache.set(key, { ino: st.ino, sha256 });
  return sha256;
}

/** The cache key of a DICOM series as planned: folder, series, file count, total size, newest mtime. */
function seriesKeyOf(input: Extract<PlanTask["input"], { kind: "dicom" }>): string {
  const id = input.identity;
  return `dicom\u0000${input.dicom_dir}\u0000${input.series_uid ?? input.series.series_uid}\u0000${id.file_count}\u0000${id.total_size}\u0000${id.newest_mtime_ms}`;
}

/** The series' content hash as it is now (from the cache when the series' identity is the one cached). */
async function currentSeriesHash(cache: HashCache, input: Extract<PlanTask["input"], { kind: "dicom" }>): Promise<string | null> {
  const key = seriesKeyOf(input);
  const hit = cache.get(key);
  if (hit !== undefined) return hit.sha256;
  const files = await selectDicomSeriesFiles(input.dicom_dir, input.series_uid ?? input.series.series_uid);
  if (files.length !== input.identity.file_count) return null;
  const hashed: Array<{ path: string; size: number; sha256: string }> = [];
  for (const f of files) {
    const size = statSync(f).size;
    hashed.push({ path: f, size, sha256: await fileSha256(f, size) });
  }
  const sha256 = seriesDigest(input.dicom_dir, hashed);
  cache.set(key, { ino: 0, sha256 });
  return sha256;
}

/** Whether a DICOM task differs only in its series' newest mtime (same folder, series, count, size, options). */
function onlySeriesMtimeDiffers(before: PlanTask, after: PlanTask): boolean {
  if (before.input.kind !== "dicom" || after.input.kind !== "dicom") return false;
  if (JSON.stringify(before.options) !== JSON.stringify(after.options)) return false;
  const a = before.input;
  const b = after.input;
  if (a.dicom_dir !== b.dicom_dir || (a.series_uid ?? a.series.series_uid) !== (b.series_uid ?? b.series.series_uid)) return false;
  return a.identity.file_count === b.identity.file_count && a.identity.total_size === b.identity.total_size && a.identity.newest_mtime_ms !== b.identity.newest_mtime_ms;
}

/** Whether `before` and `after` differ only in the mtimes of same-size NIfTI input files. */
function onlyMtimesDiffer(before: PlanTask, after: PlanTask): boolean {
  if (before.input.kind !== "nifti" || after.input.kind !== "nifti") return false;
  if (JSON.stringify(before.options) !== JSON.stringify(after.options)) return false;
  const a = before.input.identity;
  const b = after.input.identity;
  if (a.length !== b.length || before.input.nifti !== after.input.nifti) return false;
  let mtime = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.path !== b[i]!.path || a[i]!.size !== b[i]!.size) return false;
    if (a[i]!.mtime_ms !== b[i]!.mtime_ms) mtime = true;
  }
  return mtime;
}

/**
 * Tasks done with the previous plan's task whose inputs only got new mtimes, with the same bytes
 * (by the hash run-one recorded, else the cached hash of the files as they were): planned as
 * before (so they stay done); those whose bytes differ are named in `contentChanged`. Then,
 * with `remember` (a plan that is written, not a dry run), the inputs of every done task not
 * hashed yet are hashed, so that a later touch can be told from a change: the first plan after
 * subjects are done reads their NIfTI inputs once (bench/input-hash.mjs measures it). Pending
 * subjects are not hashed: a change to their inputs costs no result. `tasks` and `resume` are
 * the caller's, changed in place and returned (a kept task is the one planned now, set back to
 * how it was planned: a whole dataset touched at 200,000 subjects held both, 560-620 MB).
 */
export async function keepSameContent(input: {
  /** The study folder (its `_done.json` records are read again for the tasks compared). */
  out: string;
  tasks: PlanTask[];
  resume: ResumeInfo[];
  previous: PreviousPlan | null;
  cache: HashCache;
  sameVersion: boolean;
  remember: boolean;
  /** The re-plan's reasons (src/plan/change-reasons.ts): a task whose previous options it knows is not read back. */
  reasons?: ChangeReasons;
}): Promise<{ tasks: PlanTask[]; resume: ResumeInfo[]; sameContent: Set<string>; contentChanged: Set<string> }> {
  const { out, tasks, resume, previous, cache, sameVersion, remember, reasons } = input;
  const sameContent = new Set<string>();
  const contentChanged = new Set<string>();
  // The tasks that may have been touched: their done record is the previous plan's task.
  const touched = (i: number): boolean => {
    const info = resume[i]!;
    if (info.state !== "changed" || !sameVersion || previous === null) return false;
    const prevHash = previous.hashOf(tasks[i]!.key);
    return prevHash !== undefined && prevHash === doneHashOf(info, prevHash);
  };
  // Done tasks whose inputs run-one did not record (done before it did: older studies).
  const unrecorded = (i: number): boolean => tasks[i]!.input.kind === "nifti" && resume[i]!.state === "done" && resume[i]!.hashesRecorded !== true;
  // Every task by shard, grouped only when a shard's keys are needed (a plan with nothing to hash never groups them).
  let everyTask: Map<number, number[]> | undefined;
  // Each shard visited once (one read of its cache file): its touched tasks, then its unrecorded ones.
  let visited = 0;
  for (const [shard, indices] of byShard(tasks, (i) => touched(i) || (remember && unrecorded(i)))) {
    if (++visited % COLLECT_EVERY_SHARDS === 0) collectGarbage(tasks.length);
    // The keys this shard's tasks can still ask for when it is written: their inputs as they are
    // now (taken before a task below is kept) and as planned before (added as each is kept).
    let keys: Set<string> | undefined;
    const live = (): Set<string> => {
      if (keys !== undefined) return keys;
      everyTask ??= byShard(tasks, () => true);
      keys = new Set();
      for (const i of everyTask.get(shard) ?? []) for (const k of cacheKeysOf(tasks[i]!)) keys.add(k);
      return keys;
    };
    const use = (): void => cache.use(shard, live);
    await mapLimit(indices.filter(touched), HASH_CONCURRENCY, async (i) => {
      const outcome = await compareTouched({ out, task: tasks[i]!, info: resume[i]!, previous: previous!, cache, reasons, use });
      if (outcome === "changed") contentChanged.add(tasks[i]!.key);
      if (typeof outcome !== "object") return;
      const known = live();
      tasks[i] = asPlannedBefore(tasks[i]!, outcome);
      for (const k of cacheKeysOf(tasks[i]!)) known.add(k);
      resume[i] = doneResume(resume[i]!.hashesRecorded === true);
      sameContent.add(tasks[i]!.key);
    });
    if (remember) await rememberUnrecorded(cache, indices.filter(unrecorded).map((i) => tasks[i]!), use);
  }
  return { tasks, resume, sameContent, contentChanged };
}

/**
 * A done task whose input may only have been touched, compared by content: the previous plan's
 * task when its bytes are the same, "changed" when they differ, undefined when it cannot be told
 * (or it was not a touch).
 */
async function compareTouched(c: {
  out: string;
  task: PlanTask;
  info: ResumeInfo;
  previous: PreviousPlan;
  cache: HashCache;
  reasons: ChangeReasons | undefined;
  /** Puts the task's cache shard in memory. */
  use: () => void;
}): Promise<PlanTask | "changed" | undefined> {
  const { task, cache } = c;
  const prevHash = c.previous.hashOf(task.key) as string;
  // Its input is the same as planned before (a known options set explains its hash): not a touch.
  if (c.reasons?.optionsBefore(task, prevHash) !== undefined) return undefined;
  // Read back from the previous plan only now: done with it, and only its mtimes may differ.
  const prev = c.previous.task(task.key);
  if (prev === undefined) return undefined;
  c.reasons?.consider(prev, prevHash);
  const series = onlySeriesMtimeDiffers(prev, task);
  if (!series && !onlyMtimesDiffer(prev, task)) return undefined;
  c.use();
  // Proven by an earlier plan (the same task, its inputs as they are now): nothing read again.
  const proof = proofKeyOf(task);
  if (cache.get(proof)?.sha256 === prevHash) return prev;
  const proven = (): PlanTask => {
    cache.set(proof, { ino: 0, sha256: prevHash });
    return prev;
  };
  const now = task.input;
  // Read again only for a task compared here (resume states hold only that the record has hashes).
  const recorded = async (): Promise<readonly InputHash[] | undefined> => (c.info.hashesRecorded === true ? recordedInputHashes(c.out, task) : undefined);
  if (series && prev.input.kind === "dicom" && now.kind === "dicom") {
    const before = prev.input;
    // Only the series hash run-one recorded (or one cached from the series as planned) can vouch.
    const fromRecord = (await recorded())?.find((h) => h.path === before.dicom_dir && h.size === before.identity.total_size)?.sha256;
    const known = fromRecord ?? cache.get(seriesKeyOf(before))?.sha256;
    if (known === undefined) return undefined;
    const current = await currentSeriesHash(cache, now).catch(() => null);
    return current === known ? proven() : current === null ? undefined : "changed";
  }
  if (prev.input.kind !== "nifti") return undefined;
  const identity = prev.input.identity;
  const hashes = await recorded();
  const nowFiles = now.identity as { path: string }[];
  for (const [j, old] of identity.entries()) {
    // The bytes csttool ran on (run-one's record), else the bytes the plan saw (the cache).
    const known = hashes?.find((h) => h.path === old.path && h.size === old.size)?.sha256 ?? cache.get(keyOf(old))?.sha256;
    if (known === undefined) return undefined;
    if ((await currentHash(cache, nowFiles[j]!.path)) !== known) return "changed";
  }
  return proven();
}

/**
 * `task` as planned before (`prev`: its hash is the done record's, as `touched` checked), held as
 * it is now: a NIfTI task takes back its earlier mtimes in place (the same files: onlyMtimesDiffer)
 * and the previous hash (no second task at 200,000 subjects).
 */
function asPlannedBefore(task: PlanTask, prev: PlanTask): PlanTask {
  if (task.input instanceof CompactNiftiInput && prev.input.kind === "nifti") {
    task.input.setMtimes(prev.input.identity.map((f) => f.mtime_ms));
    task.config_hash = prev.config_hash;
    return task;
  }
  return { index: task.index, key: task.key, subject: task.subject, session: task.session, input: compactInput(prev.input), options: task.options, config_hash: prev.config_hash, output_dir: task.output_dir };
}

/**
 * Remember the bytes of done tasks' inputs that run-one did not record, once per file (the cache
 * knows the rest), the files made task by task (never a list of every done task's files).
 */
async function rememberUnrecorded(cache: HashCache, tasks: readonly PlanTask[], use: () => void): Promise<void> {
  if (tasks.length === 0) return;
  use();
  function* unhashed(): Generator<{ path: string; size: number; mtime_ms: number }> {
    for (const t of tasks) for (const f of (t.input as { identity: { path: string; size: number; mtime_ms: number }[] }).identity) if (cache.get(keyOf(f)) === undefined) yield f;
  }
  await forEachLimit(unhashed(), HASH_CONCURRENCY, async (f) => {
    if (cache.get(keyOf(f)) !== undefined) return;
    try {
      // Only bytes that are still those the subject was planned (and run) with.
      const st = statSync(f.path);
      if (st.size === f.size && st.mtimeMs === f.mtime_ms) await currentHash(cache, f.path);
    } catch {
      // gone or unreadable now: nothing to remember
    }
  });
}

/** The cache keys a task can be looked up by (its files as planned, or its DICOM series, and its proof). */
function cacheKeysOf(task: PlanTask): string[] {
  const input = task.input;
  const keys = input.kind === "nifti" ? input.identity.map(keyOf) : [seriesKeyOf(input)];
  keys.push(proofKeyOf(task));
  return keys;
}

/** The indices of the tasks `wanted` says, by their cache shard (shards in order, none empty). */
function byShard(tasks: readonly PlanTask[], wanted: (i: number) => boolean): Map<number, number[]> {
  const groups: number[][] = Array.from({ length: HASH_SHARDS }, () => []);
  for (let i = 0; i < tasks.length; i++) if (wanted(i)) groups[shardOfTask(tasks[i]!)]!.push(i);
  return new Map(groups.flatMap((g, shard) => (g.length > 0 ? [[shard, g] as [number, number[]]] : [])));
}

/** `fn` on each item of `items` (pulled as needed), at most `limit` at once. */
async function forEachLimit<T>(items: Iterator<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const worker = async (): Promise<void> => {
    for (let next = items.next(); next.done !== true; next = items.next()) await fn(next.value);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
