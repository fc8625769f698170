import fs from "node:fs";
import { closeQuietly } from "../util/quiet-fs.js";

/**
 * The offsets file written next to a schema-2 plan (`x.jsonl` -> `x.idx`, src/layout.ts):
 * 8 bytes `CSTIDX2\n`, then task_count + 1 unsigned 64-bit little-endian byte offsets into the
 * plan: where the line of task k starts (the first is the header line's length), and last the
 * plan's size. Task N's line is [entry N, entry N + 1). It only says where to look: the reader
 * checks that the bytes there are one whole line holding task N (src/plan/load-plan.ts), and
 * reads the plan line by line when they are not (a plan copied without it, a mismatched pair).
 */
const MAGIC = Buffer.from("CSTIDX2\n", "latin1");
const ENTRY = 8;

/** The offsets file's bytes for a plan whose lines start at `lineStarts` (header excluded) and that is `size` bytes long. */
export function encodePlanIndex(lineStarts: readonly number[], size: number): Buffer {
  const buf = Buffer.alloc(MAGIC.length + (lineStarts.length + 1) * ENTRY);
  MAGIC.copy(buf, 0);
  for (let k = 0; k < lineStarts.length; k++) putOffset(buf, lineStarts[k] as number, MAGIC.length + k * ENTRY);
  putOffset(buf, size, MAGIC.length + lineStarts.length * ENTRY);
  return buf;
}

/** An offset (a safe integer) as an unsigned 64-bit little-endian number: two 32-bit halves, no BigInt per entry. */
function putOffset(buf: Buffer, at: number, pos: number): void {
  buf.writeUInt32LE(at % 0x1_0000_0000, pos);
  buf.writeUInt32LE(Math.floor(at / 0x1_0000_0000), pos + 4);
}

/** Where the header line ends and task `index`'s line lies, from the offsets file; null when it has no usable entry. */
export function readTaskSpan(indexFile: string, index: number): { headerEnd: number; start: number; end: number } | null {
  let fd: number;
  try {
    fd = fs.openSync(indexFile, "r");
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(MAGIC.length + ENTRY);
    if (fs.readSync(fd, head, 0, head.length, 0) !== head.length || !head.subarray(0, MAGIC.length).equals(MAGIC)) return null;
    const pair = Buffer.alloc(2 * ENTRY);
    if (fs.readSync(fd, pair, 0, pair.length, MAGIC.length + index * ENTRY) !== pair.length) return null;
    const headerEnd = Number(head.readBigUInt64LE(MAGIC.length));
    const start = Number(pair.readBigUInt64LE(0));
    const end = Number(pair.readBigUInt64LE(ENTRY));
    return headerEnd > 0 && start >= headerEnd && end > start ? { headerEnd, start, end } : null;
  } catch {
    return null;
  } finally {
    closeQuietly(fd);
  }
}
