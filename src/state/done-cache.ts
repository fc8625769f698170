import { statusCachePath } from "../layout.js";
import { SCHEMA_VERSION } from "../schemas/records.js";
import { DoneCacheSchema, type DoneSummary } from "../schemas/status-cache.js";
import { forManyRecords } from "../schemas/zod.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import { readStateFileSync } from "../util/read-json.js";

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

  /** The records seen since this cache was loaded (what the next status can reuse). */
  *entries(): Generator<{ dir: string; id: string; html_report: string | null; record: DoneSummary }> {
    for (const [dir, e] of this.seen) yield { dir, id: e.id, html_report: e.done.htmlReport, record: e.done.record };
  }
}

/** `ino:size:mtimeMs:ctimeMs`: a `_done.json` replaced (always by a rename) or edited gets another. */
export function fileIdentity(st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** The cache of `out`; empty when there is none, or it is damaged or of a newer cst-batch (it is rebuilt). */
export function loadDoneRecordCache(out: string): DoneRecordCache {
  const r = readStateFileSync(statusCachePath(out), forManyRecords(DoneCacheSchema));
  if (r.kind !== "ok") return new DoneRecordCache();
  const known = new Map<string, Entry>();
  for (const e of r.value.entries) known.set(e.dir, { id: e.id, done: { record: e.record, htmlReport: e.html_report } });
  return new DoneRecordCache(known);
}

/**
 * Write the cache when it changed. Best effort: an output folder status cannot write to (another
 * user's study, a read-only mount) just means the next status reads every record again.
 */
export function saveDoneRecordCache(out: string, cache: DoneRecordCache): void {
  if (!cache.changed) return;
  try {
    writeFileAtomicSync(statusCachePath(out), cachePieces(cache), { durable: false, root: out });
  } catch {
    // not written: see above
  }
}

/** Compact JSON in pieces (~5 MB for 10,000 records, never one string). */
function* cachePieces(cache: DoneRecordCache): Generator<string> {
  yield `{"schema_version":${SCHEMA_VERSION},"kind":"cst-batch-status-cache","entries":[`;
  let first = true;
  for (const e of cache.entries()) {
    yield (first ? "\n" : ",\n") + JSON.stringify(e);
    first = false;
  }
  yield "\n]}\n";
}
