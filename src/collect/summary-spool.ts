import fs, { constants } from "node:fs";
import path from "node:path";
import { STATE_DIR } from "../layout.js";
import { AtomicSpool } from "../util/atomic-spool.js";
import { assertRealDirs } from "../util/confined-fs.js";
import { closeQuietly, rmQuietly } from "../util/quiet-fs.js";
import { randomHex } from "../util/random-hex.js";

/**
 * `batch_summary.json` written in bounded memory, byte for byte what
 * `JSON.stringify(summary, null, 2) + "\n"` gives: its `tasks` elements are written, as collect
 * makes them, to a scratch file under `<out>/.cst-batch/` (removed afterwards); the summary is
 * then put together from the fields known at the end and that scratch (src/util/json-pieces.ts
 * writes the same text from a summary held whole).
 */
export class SummaryTasksSpool {
  private fd: number | null;
  private readonly scratch: string;
  private pending = "";
  private count = 0;

  constructor(private readonly out: string) {
    const dir = path.join(out, STATE_DIR);
    assertRealDirs(out, dir);
    this.scratch = path.join(dir, `.batch_summary.tasks.${randomHex(6)}.tmp`);
    this.fd = fs.openSync(this.scratch, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  }

  /** The next element of `tasks`. */
  add(task: unknown): void {
    // Elements sit at depth 2 (4 spaces); newlines inside strings are escaped, so every raw newline is structure.
    const text = JSON.stringify(task === undefined ? null : task, null, 2).replace(/\n/g, "\n    ");
    this.pending += `${this.count === 0 ? "" : ","}\n    ${text}`;
    this.count++;
    if (this.pending.length >= 1 << 16) this.flush();
  }

  private flush(): void {
    if (this.fd === null || this.pending === "") return;
    fs.writeSync(this.fd, this.pending);
    this.pending = "";
  }

  /** Write `file` atomically: `summary` (its `tasks` left out) with the elements added. */
  commit(file: string, summary: Record<string, unknown>): void {
    if (this.fd === null) throw new Error("internal: the summary was already written or abandoned");
    this.flush();
    const marker = "\u0000tasks\u0000";
    const outline = JSON.stringify({ ...summary, tasks: marker }, null, 2);
    const quoted = JSON.stringify(marker);
    const at = outline.indexOf(quoted);
    const spool = new AtomicSpool(file, this.out);
    try {
      if (this.count === 0) {
        spool.write(outline.slice(0, at) + "[]" + outline.slice(at + quoted.length) + "\n");
      } else {
        spool.write(outline.slice(0, at) + "[");
        const buf = Buffer.allocUnsafe(1 << 20);
        for (let pos = 0; ; ) {
          const n = fs.readSync(this.fd, buf, 0, buf.length, pos);
          if (n === 0) break;
          pos += n;
          spool.writeBytes(buf.subarray(0, n));
        }
        spool.write("\n  ]" + outline.slice(at + quoted.length) + "\n");
      }
      spool.commit();
    } catch (e) {
      spool.abort();
      throw e;
    } finally {
      this.abort();
    }
  }

  /** Remove the scratch file. Safe to call more than once. */
  abort(): void {
    if (this.fd !== null) closeQuietly(this.fd);
    this.fd = null;
    this.pending = "";
    rmQuietly(this.scratch);
  }
}
