import fs from "node:fs";
import { openAppendConfined } from "../util/confined-fs.js";

/**
 * Append one line to a shared log file with a single write(2) on an O_APPEND descriptor. POSIX
 * makes each such write land at the end of the file as a unit, so array tasks on many nodes
 * (and the CLI beside them) add whole lines without locking; lines are kept under
 * MAX_LINE_BYTES, well inside what local filesystems and NFS/Lustre append in one piece.
 */
export const MAX_LINE_BYTES = 4000;

/**
 * Append `line` (a newline is added) to `file` inside the output folder `root`; false (never a
 * throw) when the file cannot be written, a symbolic link planted on the way included: it is
 * never followed (src/util/confined-fs.ts; commands check the layout's links up front).
 */
export function appendLineSync(root: string, file: string, line: string): boolean {
  const data = Buffer.from(line.endsWith("\n") ? line : line + "\n", "utf8");
  let fd: number | undefined;
  try {
    fd = openAppendConfined(root, file);
    return fs.writeSync(fd, data) === data.length;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // nothing to do
      }
    }
  }
}

/**
 * One JSON line under MAX_LINE_BYTES: long strings and arrays in `fields` are shortened
 * (marked with `truncated: true`) until it fits; `base` (level, time, msg...) is kept whole.
 */
export function jsonLine(base: Record<string, unknown>, fields: Record<string, unknown>): string {
  let line = JSON.stringify({ ...base, ...fields });
  if (Buffer.byteLength(line) <= MAX_LINE_BYTES) return line;
  for (const limit of [512, 128, 32]) {
    const shortened: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) shortened[k] = shorten(v, limit);
    line = JSON.stringify({ ...base, ...shortened, truncated: true });
    if (Buffer.byteLength(line) <= MAX_LINE_BYTES) return line;
  }
  const msg = typeof base.msg === "string" ? base.msg.slice(0, 1000) : base.msg;
  return JSON.stringify({ ...base, msg, truncated: true });
}

function shorten(v: unknown, limit: number): unknown {
  if (typeof v === "string") return v.length > limit ? v.slice(0, limit) + "…" : v;
  if (Array.isArray(v)) {
    const kept = v.slice(0, Math.max(1, Math.floor(limit / 32))).map((x) => shorten(x, limit));
    return v.length > kept.length ? [...kept, `… ${v.length - kept.length} more`] : kept;
  }
  if (typeof v === "object" && v !== null) {
    const json = JSON.stringify(v);
    return json.length > limit * 2 ? json.slice(0, limit) + "…" : v;
  }
  return v;
}
