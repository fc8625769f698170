import { createHash } from "node:crypto";
import { createReadStream, readFileSync, statSync } from "node:fs";
import type { PlanTask } from "../schemas/plan.js";
import type { InputHash } from "../schemas/records.js";
import { collectGarbage } from "../util/collect-garbage.js";
import { mapLimit } from "../util/map-limit.js";
import { compactInput } from "./compact-input.js";
import { HASH_SHARDS, shardOfTask, type HashCache } from "./hash-cache.js";
import { seriesDigest } from "./dicom-digest.js";
import { selectDicomSeriesFiles } from "./dicom.js";
import type { ChangeReasons } from "./change-reasons.js";
import type { PreviousPlan, ResumeInfo } from "./replan.js";
import { recordedInputHashes } from "./resume-states.js";

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
 * subjects are not hashed: a change to their inputs costs no result. Returns the tasks and resume
 * states to plan with.
 */
export async function keepSameContent(input: {
  /** The study folder (its `_done.json` records are read again for the tasks compared). */
  out: string;
  tasks: readonly PlanTask[];
  resume: readonly ResumeInfo[];
  previous: PreviousPlan | null;
  cache: HashCache;
  sameVersion: boolean;
  remember: boolean;
  /** The re-plan's reasons (src/plan/change-reasons.ts): a task whose previous options it knows is not read back. */
  reasons?: ChangeReasons;
}): Promise<{ tasks: PlanTask[]; resume: ResumeInfo[]; sameContent: Set<string>; contentChanged: Set<string> }> {
  const { out, tasks, resume, previous, cache, sameVersion, remember, reasons } = input;
  const outTasks = [...tasks];
  const outResume = [...resume];
  const sameContent = new Set<string>();
  const contentChanged = new Set<string>();
  // Every task by shard: the keys a shard keeps when it is written are those its tasks can ask for.
  // Grouped only when a shard is written (a plan with nothing to hash never groups them).
  let everyTask: Map<number, number[]> | undefined;
  const liveKeys = (shard: number) => (): ReadonlySet<string> => {
    everyTask ??= byShard(tasks, () => true);
    const keys = new Set<string>();
    for (const i of everyTask.get(shard) ?? []) for (const t of [tasks[i]!, outTasks[i]!]) for (const k of cacheKeysOf(t)) keys.add(k);
    return keys;
  };
  // The tasks that may have been touched (their done record is the previous plan's task), by shard.
  const touched = byShard(tasks, (i) => {
    const info = resume[i]!;
    if (info.state !== "changed" || !sameVersion || previous === null) return false;
    const prevHash = previous.hashOf(tasks[i]!.key);
    return prevHash !== undefined && prevHash === info.doneHash;
  });
  let visited = 0;
  for (const [shard, indices] of touched) {
    if (++visited % COLLECT_EVERY_SHARDS === 0) collectGarbage(tasks.length);
    await mapLimit(indices, HASH_CONCURRENCY, async (i) => {
      const info = resume[i]!;
      const prevHash = previous!.hashOf(tasks[i]!.key) as string;
      // Its input is the same as planned before (a known options set explains its hash): not a touch.
      if (reasons?.optionsBefore(tasks[i]!, prevHash) !== undefined) return;
      // Read back from the previous plan only now: done with it, and only its mtimes may differ.
      const prev = previous!.task(tasks[i]!.key);
      if (prev === undefined) return;
      reasons?.consider(prev, prevHash);
      const keep = (): void => {
        // The task as planned before (its input identity and hash), held as the new one is: its
        // options and names shared, its input compact (a whole dataset touched keeps every done task).
        const t = tasks[i]!;
        outTasks[i] = { index: i, key: t.key, subject: t.subject, session: t.session, input: compactInput(prev.input), options: t.options, config_hash: prev.config_hash, output_dir: t.output_dir };
        outResume[i] = { state: "done", doneHash: info.doneHash };
        sameContent.add(tasks[i]!.key);
      };
      const now = tasks[i]!.input;
      // Read again only for a task compared here (resume states hold only that the record has hashes).
      const recorded = async (): Promise<readonly InputHash[] | undefined> => (info.hashesRecorded === true ? recordedInputHashes(out, tasks[i]!) : undefined);
      if (prev.input.kind === "dicom" && now.kind === "dicom" && onlySeriesMtimeDiffers(prev, tasks[i]!)) {
        // Only the series hash run-one recorded (or one cached from the series as planned) can vouch.
        const fromRecord = (await recorded())?.find((h) => h.path === (prev.input as { dicom_dir: string }).dicom_dir && h.size === (prev.input.identity as { total_size: number }).total_size)?.sha256;
        cache.use(shard, liveKeys(shard));
        const known = fromRecord ?? cache.get(seriesKeyOf(prev.input))?.sha256;
        if (known === undefined) return;
        const current = await currentSeriesHash(cache, now).catch(() => null);
        if (current === known) keep();
        else if (current !== null) contentChanged.add(tasks[i]!.key);
        return;
      }
      if (!onlyMtimesDiffer(prev, tasks[i]!)) return;
      if (prev.input.kind !== "nifti") return;
      const hashes = await recorded();
      cache.use(shard, liveKeys(shard));
      for (const [j, old] of prev.input.identity.entries()) {
        // The bytes csttool ran on (run-one's record), else the bytes the plan saw (the cache).
        const known = hashes?.find((h) => h.path === old.path && h.size === old.size)?.sha256 ?? cache.get(keyOf(old))?.sha256;
        if (known === undefined) return;
        const now = await currentHash(cache, (tasks[i]!.input.identity as { path: string }[])[j]!.path);
        if (now !== known) {
          contentChanged.add(tasks[i]!.key);
          return;
        }
      }
      keep();
    });
  }
  if (!remember) return { tasks: outTasks, resume: outResume, sameContent, contentChanged };
  // Remember the bytes of every done subject's inputs that run-one did not record (done before it
  // did: older studies), once per file: the cache knows the rest. Shard by shard, the files made
  // task by task (never a list of every done task's files: a study of 200,000).
  const unrecorded = byShard(outTasks, (i) => outTasks[i]!.input.kind === "nifti" && outResume[i]!.state === "done" && outResume[i]!.hashesRecorded !== true);
  for (const [shard, indices] of unrecorded) {
    if (++visited % COLLECT_EVERY_SHARDS === 0) collectGarbage(tasks.length);
    cache.use(shard, liveKeys(shard));
    function* unhashed(): Generator<{ path: string; size: number; mtime_ms: number }> {
      for (const i of indices) for (const f of (outTasks[i]!.input as { identity: { path: string; size: number; mtime_ms: number }[] }).identity) if (cache.get(keyOf(f)) === undefined) yield f;
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
  return { tasks: outTasks, resume: outResume, sameContent, contentChanged };
}

/** The cache keys a task's input can be looked up by (its files as planned, or its DICOM series). */
function cacheKeysOf(task: PlanTask): string[] {
  const input = task.input;
  return input.kind === "nifti" ? input.identity.map(keyOf) : [seriesKeyOf(input)];
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
