import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LineReader, readLines } from "../../../src/util/line-reader.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "cst-line-reader-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withFile<T>(text: string, fn: (fd: number) => T): T {
  const file = path.join(dir, `f${Math.random().toString(16).slice(2)}`);
  writeFileSync(file, text);
  const fd = openSync(file, "r");
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

function all(reader: LineReader): string[] {
  const lines: string[] = [];
  for (let l = reader.next(); l !== null; l = reader.next()) lines.push(l);
  return lines;
}

describe("line readers", () => {
  // Lines longer than a 1 MB piece and lines that straddle the pieces' edges, multi-byte characters included.
  const lines = ["a", "é".repeat(300_000), "", "x".repeat(1_500_000), "last é"];

  it("LineReader gives every line of a file read in pieces, and says when the last one had no newline", () => {
    const ended = withFile(lines.join("\n") + "\n", (fd) => {
      const r = new LineReader(fd);
      return { lines: all(r), cut: r.cut };
    });
    expect(ended.lines).toEqual(lines);
    expect(ended.cut).toBe(false);
    const cut = withFile(lines.join("\n"), (fd) => {
      const r = new LineReader(fd);
      return { lines: all(r), cut: r.cut };
    });
    expect(cut.lines).toEqual(lines);
    expect(cut.cut).toBe(true);
  });

  it("LineReader starts at a byte offset and returns null at the end, again and again", () => {
    const text = "first\nsecond\nthird\n";
    withFile(text, (fd) => {
      const r = new LineReader(fd, Buffer.byteLength("first\n"));
      expect(all(r)).toEqual(["second", "third"]);
      expect(r.next()).toBeNull();
      expect(r.cut).toBe(false);
    });
  });

  it("readLines gives each line's byte offset, up to the size given", () => {
    const text = "é1\nline two\n3";
    withFile(text, (fd) => {
      expect([...readLines(fd, 0, Buffer.byteLength(text))]).toEqual([
        { text: "é1", done: true, start: 0 },
        { text: "line two", done: true, start: 4 },
        { text: "3", done: false, start: 13 },
      ]);
      // Up to a size short of the end: the rest is not read.
      expect([...readLines(fd, 0, 4)].map((l) => l.text)).toEqual(["é1"]);
    });
  });
});
