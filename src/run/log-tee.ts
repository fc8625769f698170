import fs from "node:fs";
import path from "node:path";
import { mkdirConfined } from "../util/confined-fs.js";
import { closeQuietly } from "../util/quiet-fs.js";

import { LOG_TAIL_LINES } from "../events/subject-log.js";

export { LOG_TAIL_LINES };

/**
 * The subject's log while csttool runs: its stdout and stderr teed line by line with a
 * timestamp and a tag (`out|`, `err|`; cst-batch's own lines `cst|`), the last lines kept.
 */
export class LogTee {
  private fd: number | null;
  private error: string | null = null;
  readonly tail: string[] = [];
  private partial: Record<"out" | "err", string> = { out: "", err: "" };

  constructor(
    root: string,
    private readonly file: string,
    header: string,
  ) {
    const { O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW } = fs.constants;
    try {
      mkdirConfined(root, path.dirname(file));
      // Never write through a symlink planted at the log's name: O_NOFOLLOW refuses it (ELOOP); it is removed, then opened again.
      const open = (): number => fs.openSync(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o666);
      try {
        this.fd = open();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ELOOP" || !fs.lstatSync(file).isSymbolicLink()) throw e;
        fs.unlinkSync(file);
        this.fd = open();
      }
    } catch (e) {
      this.error = `cannot write the log ${file}: ${(e as Error).message}`;
      this.fd = null;
    }
    this.raw(header.endsWith("\n") ? header : header + "\n");
  }

  get logError(): string | undefined {
    return this.error ?? undefined;
  }

  private raw(text: string): void {
    if (this.fd === null || text === "") return;
    try {
      fs.writeSync(this.fd, text);
    } catch (e) {
      this.error = `cannot write the log ${this.file}: ${(e as Error).message}`;
      this.closeFd();
    }
  }

  /** Remember `text` in the tail and return its log line. */
  private line(tag: "out" | "err" | "cst", text: string): string {
    this.tail.push(text);
    if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
    return `${new Date().toISOString()} ${tag}| ${text}\n`;
  }

  chunk(tag: "out" | "err", data: Buffer): void {
    const text = this.partial[tag] + data.toString("utf8");
    const lines = text.split("\n");
    this.partial[tag] = lines.pop() ?? "";
    let out = "";
    for (const l of lines) out += this.line(tag, l.replace(/\r$/, ""));
    this.raw(out);
  }

  /** A line from cst-batch itself (what it did to the run). */
  note(text: string): void {
    this.raw(this.line("cst", text));
  }

  async close(): Promise<void> {
    let out = "";
    for (const tag of ["out", "err"] as const) {
      if (this.partial[tag] !== "") out += this.line(tag, this.partial[tag]);
      this.partial[tag] = "";
    }
    this.raw(out);
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd === null) return;
    closeQuietly(this.fd);
    this.fd = null;
  }
}

