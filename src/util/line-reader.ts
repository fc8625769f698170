import fs from "node:fs";

/**
 * The lines of an open file, pulled one at a time (readLines to the file's end, whatever it is
 * when reached): `next()` gives a line without its newline, `null` at the end. A last line
 * without its newline is given with `cut` true (a file being written, or cut short).
 */
export class LineReader {
  private readonly lines: Generator<{ text: string; done: boolean; start: number }>;
  /** The last line returned had no newline. */
  cut = false;

  constructor(fd: number, from = 0) {
    this.lines = readLines(fd, from, Number.POSITIVE_INFINITY);
  }

  next(): string | null {
    const r = this.lines.next();
    if (r.done === true) return null;
    if (!r.value.done) this.cut = true;
    return r.value.text;
  }
}

/**
 * The lines of an open file from byte `from` to `size` (Infinity: to its end), read in 1 MB pieces into one buffer (reused: a new buffer a piece,
 * outside the JS heap, left ~80 MB the allocator kept after a scan of 200,000 lines): `done`
 * false for a last line without its newline; `start` the line's byte offset in the file.
 */
export function* readLines(fd: number, from: number, size: number): Generator<{ text: string; done: boolean; start: number }> {
  let buf = Buffer.allocUnsafe(Math.max(1, Math.min(1 << 20, size - from)));
  let pos = from;
  // Bytes of a line not ended yet, at the start of `buf`.
  let carry = 0;
  while (pos < size) {
    if (carry === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, carry);
      buf = bigger;
    }
    const n = fs.readSync(fd, buf, carry, Math.min(buf.length - carry, size - pos), pos);
    if (n === 0) break;
    const base = pos - carry;
    pos += n;
    const data = buf.subarray(0, carry + n);
    let off = 0;
    for (let nl = data.indexOf(0x0a, off); nl >= 0; nl = data.indexOf(0x0a, off)) {
      yield { text: data.toString("utf8", off, nl), done: true, start: base + off };
      off = nl + 1;
    }
    carry = data.length - off;
    if (carry > 0 && off > 0) buf.copy(buf, 0, off, data.length);
  }
  if (carry > 0) yield { text: buf.toString("utf8", 0, carry), done: false, start: pos - carry };
}
