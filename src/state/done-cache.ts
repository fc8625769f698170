import fs, { constants } from "node:fs";
import { statusCachePath } from "../layout.js";
import { SCHEMA_VERSION } from "../schemas/records.js";
import { DoneCacheEntrySchema, DoneCacheHeaderSchema, type DoneCacheEntry, type DoneSummary } from "../schemas/status-cache.js";
import { forManyRecords } from "../schemas/zod.js";
import { AtomicSpool } from "../util/atomic-spool.js";
import { LineReader } from "../util/line-reader.js";
import { closeQuietly } from "../util/quiet-fs.js";

/** A done record as a TaskState keeps it, with csttool's HTML report among its files. */
export interface CachedDone {
  record: DoneSummary;
  htmlReport: string | null;
}

interface Entry {
  id: string;
  done: CachedDone;
}

/**
 * The done records of the previous status, by subject folder and the identity of the
 * `_done.json` each came from (`fileIdentity`): a record whose file is unchanged is taken from
 * here instead of being read and parsed again. A finished 10,000-subject study then costs a
 * `stat` per subject, for every later status and every `--watch` refresh.
 *
 * Status holds one of these per batch of tasks (`DoneCacheStream`), never the whole study's.
 */
export class DoneRecordCache {
  private readonly seen = new Map<string, Entry>();
  private added = false;

  constructor(private readonly known: ReadonlyMap<string, Entry> = new Map()) {}

  /** The cached record of `dir` if its `_done.json` still has identity `id`. */
  get(dir: string, id: string): CachedDone | null {
    const e = this.known.get(dir);
    if (e === undefined || e.id !== id) return null;
    this.seen.set(dir, e);
    return e.done;
  }

  /** Whether a record of `dir` is known at all (else its `_done.json` is read without a `stat` first). */
  has(dir: string): boolean {
    return this.known.has(dir);
  }

  put(dir: string, id: string, done: CachedDone): void {
    this.seen.set(dir, { id, done });
    this.added = true;
  }

  /** Whether saving would change the file: records read anew, or known ones not seen this time. */
  get changed(): boolean {
    return this.added || this.seen.size !== this.known.size;
  }

  /** The records seen since this cache was loaded (what the next status can reuse); in `order` when given. */
  *entries(order?: Iterable<string>): Generator<DoneCacheEntry> {
    if (order === undefined) {
      for (const [dir, e] of this.seen) yield entryOf(dir, e);
      return;
    }
    for (const dir of order) {
      const e = this.seen.get(dir);
      if (e) yield entryOf(dir, e);
    }
  }
}

function entryOf(dir: string, e: Entry): DoneCacheEntry {
  return { dir, id: e.id, html_report: e.done.htmlReport, record: e.done.record };
}

/** `ino:size:mtimeMs:ctimeMs`: a `_done.json` replaced (always by a rename) or edited gets another. */
export function fileIdentity(st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

const HEADER = JSON.stringify({ schema_version: SCHEMA_VERSION, kind: "cst-batch-status-cache", layout: "lines" });

/**
 * The entries of the cache file of `out`, pulled in file order; none when there is no file, or
 * it is damaged, of an earlier layout or of a newer cst-batch (the cache is then rebuilt). A
 * damaged line ends the entries (the rest is read from the subject folders again).
 */
class CacheEntries {
  private fd: number | null;
  private readonly lines: LineReader | null;
  private readonly schema = forManyRecords(DoneCacheEntrySchema);
  private pending: DoneCacheEntry | null = null;
  private ended = false;

  constructor(file: string) {
    let fd: number | null = null;
    try {
      fd = fs.openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      fd = null;
    }
    this.fd = fd;
    this.lines = fd === null ? null : new LineReader(fd);
    const head = this.nextLine();
    if (head === null || !DoneCacheHeaderSchema.safeParse(parseOr(head)).success) this.end();
    else this.pending = this.read();
  }

  /** The next entry without taking it. */
  peek(): DoneCacheEntry | null {
    return this.pending;
  }

  take(): DoneCacheEntry | null {
    const e = this.pending;
    if (e !== null) this.pending = this.read();
    return e;
  }

  get exhausted(): boolean {
    return this.pending === null;
  }

  private read(): DoneCacheEntry | null {
    if (this.ended || this.lines === null) return null;
    const line = this.nextLine();
    if (line === null || this.lines.cut) return this.end();
    const r = this.schema.safeParse(parseOr(line));
    return r.success ? r.data : this.end();
  }

  /** The next line; null at the end or when the file cannot be read (a folder in its place, an I/O error). */
  private nextLine(): string | null {
    try {
      return this.lines?.next() ?? null;
    } catch {
      return null;
    }
  }

  private end(): null {
    this.ended = true;
    this.pending = null;
    this.close();
    return null;
  }

  close(): void {
    if (this.fd !== null) closeQuietly(this.fd);
    this.fd = null;
  }
}

function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The cache read and rewritten in plan order, a batch of tasks at a time, in bounded memory:
 * `batch(dirs)` takes the entries of those subject folders from the old file (entries are in
 * the plan order of the status that wrote them: a subject whose entry is not where the order
 * says is simply read again), `keep(cache, dirs)` writes what the batch saw to the new file.
 * `finish()` puts the new file in place when it differs from the old one. Best effort: a cache
 * that cannot be written just means the next status reads every record again.
 */
export class DoneCacheStream {
  private readonly old: CacheEntries;
  private spool: AtomicSpool | null = null;
  private broken = false;
  private changed = false;

  constructor(private readonly out: string) {
    this.old = new CacheEntries(statusCachePath(out));
  }

  /** The known records of these subject folders (in plan order), as a cache for reading them. */
  batch(dirs: readonly string[]): DoneRecordCache {
    const known = new Map<string, Entry>();
    for (const dir of dirs) {
      const e = this.old.peek();
      if (e === null) break;
      if (e.dir !== dir) continue;
      this.old.take();
      known.set(dir, { id: e.id, done: { record: e.record, htmlReport: e.html_report } });
    }
    return new DoneRecordCache(known);
  }

  /** What the batch's reads saw, in the batch's order, to the new file. */
  keep(cache: DoneRecordCache, dirs: readonly string[]): void {
    if (cache.changed) this.changed = true;
    if (this.broken) return;
    try {
      if (this.spool === null) {
        this.spool = new AtomicSpool(statusCachePath(this.out), this.out, { durable: false });
        this.spool.write(HEADER + "\n");
      }
      for (const e of cache.entries(dirs)) this.spool.write(JSON.stringify(e) + "\n");
    } catch {
      this.broken = true;
      this.spool?.abort();
    }
  }

  /** Entries of the old file no batch took (subjects gone, or the plan's order changed) also make it differ. */
  finish(): void {
    if (!this.old.exhausted) this.changed = true;
    this.old.close();
    if (this.broken || this.spool === null) return;
    try {
      if (this.changed) this.spool.commit();
      else this.spool.abort();
    } catch {
      this.spool.abort();
    }
  }

  abort(): void {
    this.old.close();
    this.spool?.abort();
  }
}

/** The whole cache of `out` in memory (small studies, tests); empty when there is none, or it is damaged or of a newer cst-batch. */
export function loadDoneRecordCache(out: string): DoneRecordCache {
  const entries = new CacheEntries(statusCachePath(out));
  const known = new Map<string, Entry>();
  for (let e = entries.take(); e !== null; e = entries.take()) known.set(e.dir, { id: e.id, done: { record: e.record, htmlReport: e.html_report } });
  entries.close();
  return new DoneRecordCache(known);
}

/** Write a whole cache when it changed (best effort, as `DoneCacheStream`). */
export function saveDoneRecordCache(out: string, cache: DoneRecordCache): void {
  if (!cache.changed) return;
  let spool: AtomicSpool | null = null;
  try {
    spool = new AtomicSpool(statusCachePath(out), out, { durable: false });
    spool.write(HEADER + "\n");
    for (const e of cache.entries()) spool.write(JSON.stringify(e) + "\n");
    spool.commit();
  } catch {
    spool?.abort();
  }
}
