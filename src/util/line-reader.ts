import fs from "node:fs";

/**
 * The lines of an open file, pulled one at a time and read in 1 MB pieces (never the whole
 * file): `next()` gives a line without its newline, `null` at the end. A last line without its
 * newline is given with `cut` true (a file being written, or cut short).
 */
export class LineReader {
  private pos: number;
  private buf: Buffer = Buffer.alloc(0);
  private off = 0;
  private eof = false;
  /** The last line returned had no newline. */
  cut = false;

  constructor(
    private readonly fd: number,
    from = 0,
  ) {
    this.pos = from;
  }

  next(): string | null {
    for (;;) {
      const nl = this.buf.indexOf(0x0a, this.off);
      if (nl >= 0) {
        const line = this.buf.toString("utf8", this.off, nl);
        this.off = nl + 1;
        return line;
      }
      if (this.eof) {
        if (this.off >= this.buf.length) return null;
        const rest = this.buf.toString("utf8", this.off);
        this.off = this.buf.length;
        this.cut = true;
        return rest;
      }
      const piece = Buffer.allocUnsafe(1 << 20);
      const n = fs.readSync(this.fd, piece, 0, piece.length, this.pos);
      if (n === 0) {
        this.eof = true;
        continue;
      }
      this.pos += n;
      this.buf = Buffer.concat([this.buf.subarray(this.off), piece.subarray(0, n)]);
      this.off = 0;
    }
  }
}
