import { lstatSync, readFileSync, readdirSync, renameSync, type Stats } from "node:fs";
import path from "node:path";
import { inputHashesDir, inputHashesPath, inputHashesShardPath } from "../layout.js";
import { InputHashEntrySchema, type InputHashes } from "../schemas/input-hashes.js";
import type { PlanTask } from "../schemas/plan.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import { assertRealDirs, mkdirConfined } from "../util/confined-fs.js";
import { rmQuietly } from "../util/quiet-fs.js";
import { randomHex } from "../util/random-hex.js";
import { CompactNiftiInput } from "./compact-input.js";

/**
 * The study's cache of input content hashes (src/plan/content-hash.ts says what they prove), kept
 * in bounded memory (issue 21): `.cst-batch/input-hashes/<nn>.json`, one of HASH_SHARDS files
 * chosen by the task's input folder, and only one shard in memory at a time; the content check
 * visits the tasks shard by shard. A shard written by a plan is staged beside its file and put in
 * place only when the plan is written (`commit`); a dry run or a plan that stops on a problem
 * leaves the cache as it was (`discard`). The single `.cst-batch/input-hashes.json` an earlier
 * cst-batch wrote is read once, its entries moved into the shards of the tasks that use them,
 * and removed on the first commit.
 */

export type HashEntry = InputHashes["entries"][string];

/** Shards: at 200,000 tasks (800,000 files) ~12,500 entries, ~2 MB of JSON, each. */
export const HASH_SHARDS = 64;

/** The shard of a task: by the folder of its NIfTI (its sidecars beside it) or its DICOM folder. */
export function shardOfTask(task: Pick<PlanTask, "input">): number {
  const input = task.input;
  const folder = input instanceof CompactNiftiInput ? input.folder : input.kind === "nifti" ? path.dirname(input.nifti) : input.dicom_dir;
  return shardOfFolder(folder);
}

/** FNV-1a of the folder, folded to a shard number. */
function shardOfFolder(folder: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < folder.length; i++) h = Math.imul(h ^ folder.charCodeAt(i), 0x01000193);
  return (h >>> 0) % HASH_SHARDS;
}

function lstatOrNull(file: string): Stats | null {
  try {
    return lstatSync(file, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/**
 * A shard's entries as parsed, each checked when it is used (`entryOf`): validating and copying
 * every entry up front tripled the garbage of each shard read, which V8 let pile up in its old
 * generation (726 MB at 200,000 subjects). None when the file is missing, damaged or a symbolic
 * link (never read through one: the plan refuses it by name).
 */
function readEntries(file: string): Record<string, unknown> {
  const st = lstatOrNull(file);
  if (st === null || st.isSymbolicLink() || !st.isFile()) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return {};
  }
  const doc = raw as Partial<InputHashes> | null;
  const entries = doc?.entries as unknown;
  if (doc?.kind !== "cst-batch-input-hashes" || doc.schema_version !== 1 || typeof entries !== "object" || entries === null || Array.isArray(entries)) return {};
  return entries as Record<string, unknown>;
}

/** An entry as InputHashesSchema describes it, else undefined (a damaged entry is a miss: only a cache). */
function entryOf(entries: Record<string, unknown>, key: string): HashEntry | undefined {
  if (!Object.hasOwn(entries, key)) return undefined;
  const e = InputHashEntrySchema.safeParse(entries[key]);
  return e.success ? e.data : undefined;
}

export class HashCache {
  private shard = -1;
  private entries: Record<string, unknown> = {};
  private dirty = false;
  /** Shards written by this plan, not yet in place: shard -> staged file. */
  private readonly staged = new Map<number, string>();
  /** The single file of an earlier cst-batch (null: none), read once. */
  private legacy: Record<string, unknown> | null;
  private readonly hadLegacy: boolean;
  private live: (() => ReadonlySet<string>) | undefined;
  /** Staging failed once: nothing more is staged by this plan. */
  private unwritable = false;

  /** `persist`: a plan that is written (a dry run only looks: what it learns is dropped). */
  constructor(
    private readonly out: string,
    private readonly persist: boolean,
  ) {
    if (persist) removeLeftoverStaged(out);
    const old = inputHashesPath(out);
    const st = lstatOrNull(old);
    this.hadLegacy = st !== null && !st.isSymbolicLink();
    const entries = this.hadLegacy ? readEntries(old) : {};
    this.legacy = Object.keys(entries).length > 0 ? entries : null;
  }

  /**
   * Make `shard` the one in memory (the one before is staged when it learned something). `live`:
   * the keys the study's tasks in that shard can still ask for; a staged shard keeps only those
   * (an entry of a file touched again and again would otherwise stay for ever).
   */
  use(shard: number, live?: () => ReadonlySet<string>): void {
    if (shard === this.shard) return;
    this.stage();
    this.shard = shard;
    this.live = live;
    this.entries = readEntries(this.staged.get(shard) ?? inputHashesShardPath(this.out, shard));
  }

  /** The entry of `key` in the shard in use (one of the earlier single file's is moved into it). */
  get(key: string): HashEntry | undefined {
    const hit = entryOf(this.entries, key);
    if (hit !== undefined || this.legacy === null) return hit;
    const old = entryOf(this.legacy, key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: string, entry: HashEntry): void {
    this.entries[key] = entry;
    this.dirty = true;
  }

  private stage(): void {
    const wanted = this.dirty && this.persist && !this.unwritable && this.shard >= 0;
    this.dirty = false;
    if (!wanted) return;
    const file = `${inputHashesShardPath(this.out, this.shard)}.${randomHex(6)}.staged`;
    try {
      const dir = inputHashesDir(this.out);
      mkdirConfined(this.out, dir);
      assertRealDirs(this.out, dir);
      writeFileAtomicSync(file, shardText(this.entries, this.live?.()), { root: this.out, durable: false });
    } catch {
      // A folder that cannot be written (or a planted link: the plan refuses it by name when it
      // writes): the cache is not kept, the check goes on without it.
      this.unwritable = true;
      return;
    }
    const before = this.staged.get(this.shard);
    if (before !== undefined) rmQuietly(before);
    this.staged.set(this.shard, file);
  }

  /** Put the staged shards in place (the plan was written); the earlier single file goes. */
  commit(): void {
    if (!this.persist) return this.discard();
    this.stage();
    for (const [shard, file] of this.staged) {
      try {
        renameSync(file, inputHashesShardPath(this.out, shard));
      } catch {
        // gone (removed as a leftover by a plan started an hour later): only a cache
      }
    }
    this.staged.clear();
    // The earlier single file goes only once what was moved from it is written.
    if (this.hadLegacy && !this.unwritable) rmQuietly(inputHashesPath(this.out));
    this.legacy = null;
  }

  /** Drop what this plan staged (a dry run, or a plan that stopped on a problem). */
  discard(): void {
    for (const file of this.staged.values()) rmQuietly(file);
    this.staged.clear();
    this.dirty = false;
  }
}

/**
 * A shard's file, entry by entry (gathered into ~1 MB writes): the entries as read (each checked
 * when used: a damaged one stays a miss), those of `keep`'s keys only. The same bytes as
 * `JSON.stringify` of the document, without the whole text, a filtered copy and its pairs in
 * memory (~12 MB of garbage a shard at 200,000 subjects; docs/scale.md).
 */
function* shardText(entries: Record<string, unknown>, keep: ReadonlySet<string> | undefined): Generator<string> {
  yield '{"schema_version":1,"kind":"cst-batch-input-hashes","entries":{';
  let sep = "";
  for (const k in entries) {
    if (!Object.hasOwn(entries, k) || (keep !== undefined && !keep.has(k))) continue;
    const v = JSON.stringify(entries[k]);
    if (v === undefined) continue;
    yield `${sep}${JSON.stringify(k)}:${v}`;
    sep = ",";
  }
  yield "}}\n";
}

/** Staged shards a killed plan left (cst-batch's own names), over an hour old: never a running plan's. */
function removeLeftoverStaged(out: string): void {
  const dir = inputHashesDir(out);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const old = Date.now() - 3_600_000;
  for (const n of names) {
    if (!/^\d+\.json\.[0-9a-f]{12}\.staged$/.test(n)) continue;
    const st = lstatOrNull(path.join(dir, n));
    if (st !== null && st.isFile() && st.mtimeMs < old) rmQuietly(path.join(dir, n));
  }
}
