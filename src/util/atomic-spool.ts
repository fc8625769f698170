import fs, { constants } from "node:fs";
import path from "node:path";
import { fsyncDirSync } from "./atomic-write.js";
import { assertRealDirs } from "./confined-fs.js";
import { closeQuietly, rmQuietly } from "./quiet-fs.js";
import { randomHex } from "./random-hex.js";

/**
 * A file written as its pieces arrive and put in place atomically at the end (the same temp
 * name, O_EXCL|O_NOFOLLOW, fsync, rename and folder fsync as src/util/atomic-write.ts): collect
 * writes the CSV row by row while it reads the subject folders, so 200,000 rows are never held.
 * Pieces are gathered into 64 KB writes (short-lived: a larger buffer outlives the young
 * generation and piles up as garbage in the old one). Readers see the old file or the whole new one.
 */
export class AtomicSpool {
  private fd: number | null;
  private readonly tmp: string;
  private pending = "";

  private readonly durable: boolean;

  /** `durable` false: no fsyncs (a cache that can be rebuilt). */
  constructor(
    readonly file: string,
    root: string,
    opts: { durable?: boolean } = {},
  ) {
    this.durable = opts.durable !== false;
    const dir = path.dirname(file);
    assertRealDirs(root, dir);
    this.tmp = path.join(dir, `.${path.basename(file)}.${randomHex(6)}.tmp`);
    this.fd = fs.openSync(this.tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
  }

  write(piece: string): void {
    this.pending += piece;
    if (this.pending.length >= 1 << 16) this.flush();
  }

  /** Bytes as they are (copied from another file). */
  writeBytes(bytes: Uint8Array): void {
    this.flush();
    if (this.fd === null) return;
    fs.writeFileSync(this.fd, bytes);
  }

  private flush(): void {
    if (this.fd === null || this.pending === "") return;
    fs.writeFileSync(this.fd, this.pending);
    this.pending = "";
  }

  /** Everything written: fsync, rename into place, fsync the folder. */
  commit(): void {
    if (this.fd === null) throw new Error(`internal: ${this.file} was already committed or abandoned`);
    try {
      this.flush();
      if (this.durable) fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = null;
      fs.renameSync(this.tmp, this.file);
    } catch (e) {
      this.abort();
      throw e;
    }
    if (this.durable) fsyncDirSync(path.dirname(this.file));
  }

  /** Give up: the temp file goes, the old file stays. Safe to call more than once. */
  abort(): void {
    if (this.fd !== null) closeQuietly(this.fd);
    this.fd = null;
    this.pending = "";
    rmQuietly(this.tmp);
  }
}

