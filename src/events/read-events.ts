import fs from "node:fs";
import path from "node:path";
import { eventsDir, legacyEventLogPath } from "../layout.js";
import { closeQuietly } from "../util/quiet-fs.js";

/**
 * The study's event log as one stream: every machine's `events/<host>.jsonl` (and the single
 * `events.jsonl` of a study written before per-host files) merged in time order. Each file is
 * read in 64 KB pieces and only its next line is held, so memory grows with the number of files
 * (machines), never with the number of events. Within one file lines keep their order; a line
 * that is not a JSON object with a numeric `time` (cut short by a crash) is counted, not returned.
 */

export interface EventRecord {
  /** Epoch milliseconds (pino's `time`). */
  time: number;
  /** The line as written (no newline). */
  line: string;
  /** The line parsed. */
  record: Record<string, unknown>;
  /** The file it came from. */
  file: string;
}

export interface EventReadStats {
  files: number;
  /** Lines that could not be read as an event (torn by a crash, or not JSON). */
  damaged: number;
}

const PIECE = 64 * 1024;

/** The event files of a study, the pre-per-host log first; [] when there are none. */
export function eventFiles(out: string): string[] {
  const files: string[] = [];
  const legacy = legacyEventLogPath(out);
  if (fs.existsSync(legacy)) files.push(legacy);
  const dir = eventsDir(out);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    // no per-host events yet
  }
  for (const name of names.sort()) if (name.endsWith(".jsonl")) files.push(path.join(dir, name));
  return files;
}

/** The lines of one file, read piece by piece (a last line without its newline included). */
function* fileLines(file: string): Generator<string> {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return;
  }
  try {
    const buf = Buffer.allocUnsafe(PIECE);
    let carry: Buffer | null = null;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, PIECE, null);
      if (n === 0) break;
      const data: Buffer = carry === null ? buf.subarray(0, n) : Buffer.concat([carry, buf.subarray(0, n)]);
      let off = 0;
      for (let nl = data.indexOf(0x0a, off); nl >= 0; nl = data.indexOf(0x0a, off)) {
        if (nl > off) yield data.toString("utf8", off, nl);
        off = nl + 1;
      }
      carry = off < data.length ? Buffer.from(data.subarray(off)) : null;
    }
    if (carry !== null && carry.length > 0) yield carry.toString("utf8");
  } finally {
    closeQuietly(fd);
  }
}

/** The next readable event of a file's line iterator; null at its end. */
function nextEvent(lines: Iterator<string>, file: string, stats: EventReadStats): EventRecord | null {
  for (let r = lines.next(); !r.done; r = lines.next()) {
    try {
      const record = JSON.parse(r.value) as unknown;
      if (record !== null && typeof record === "object" && !Array.isArray(record) && typeof (record as { time?: unknown }).time === "number") {
        return { time: (record as { time: number }).time, line: r.value, record: record as Record<string, unknown>, file };
      }
    } catch {
      // counted below
    }
    stats.damaged++;
  }
  return null;
}

/** A binary min-heap of (time, tie-break) pairs. */
class MinHeap<T extends { time: number; order: number }> {
  private readonly items: T[] = [];
  get size(): number {
    return this.items.length;
  }
  private less(a: T, b: T): boolean {
    return a.time < b.time || (a.time === b.time && a.order < b.order);
  }
  push(item: T): void {
    const h = this.items;
    h.push(item);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }
}

/**
 * Lines of one file in time order. Processes on one machine take their time stamp just before
 * their write, so two of them can land a few lines out of order: a window of the next WINDOW
 * events is kept and the earliest handed out (file order among equal times).
 */
const WINDOW = 256;

function* timeOrdered(file: string, stats: EventReadStats): Generator<EventRecord> {
  const lines = fileLines(file)[Symbol.iterator]();
  const window = new MinHeap<{ time: number; order: number; ev: EventRecord }>();
  let order = 0;
  try {
    for (;;) {
      while (window.size < WINDOW) {
        const ev = nextEvent(lines, file, stats);
        if (ev === null) break;
        window.push({ time: ev.time, order: order++, ev });
      }
      const first = window.pop();
      if (first === undefined) return;
      yield first.ev;
    }
  } finally {
    lines.return?.(undefined);
  }
}

/**
 * Every event of the study in time order (ties: the pre-per-host log first, then by file name).
 * `stats`, when given, is filled in as the events are read.
 */
export function* readEvents(out: string, stats: EventReadStats = { files: 0, damaged: 0 }): Generator<EventRecord> {
  const files = eventFiles(out);
  stats.files = files.length;
  const sources = files.map((file) => timeOrdered(file, stats));
  const heads = new MinHeap<{ time: number; order: number; ev: EventRecord }>();
  const advance = (src: number): void => {
    const r = sources[src]!.next();
    if (!r.done) heads.push({ time: r.value.time, order: src, ev: r.value });
  };
  try {
    sources.forEach((_, src) => advance(src));
    for (let top = heads.pop(); top !== undefined; top = heads.pop()) {
      advance(top.order);
      yield top.ev;
    }
  } finally {
    for (const s of sources) s.return(undefined);
  }
}
