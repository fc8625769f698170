import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AtomicSpool, InOrder } from "../../../src/collect/spool.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "cst-spool-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("collect's streamed CSV", () => {
  it("rows finishing in any order are written in plan order, holding only the early ones", () => {
    const seen: string[] = [];
    const order = new InOrder<string>((v) => seen.push(v));
    for (const [i, v] of [[2, "c"], [0, "a"], [4, "e"], [1, "b"], [3, "d"]] as const) order.put(i, v);
    expect(seen).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("the file appears whole at commit; an abandoned one leaves the previous file and no temp file", () => {
    const file = path.join(dir, "batch_metrics.csv");
    writeFileSync(file, "old\r\n");
    const abandoned = new AtomicSpool(file, dir);
    abandoned.write("new 1\r\n");
    abandoned.abort();
    expect(readFileSync(file, "utf8")).toBe("old\r\n");
    expect(readdirSync(dir)).toEqual(["batch_metrics.csv"]);

    const spool = new AtomicSpool(file, dir);
    const row = "x".repeat(1000) + "\r\n";
    for (let i = 0; i < 3000; i++) spool.write(row);
    expect(readFileSync(file, "utf8")).toBe("old\r\n");
    spool.commit();
    expect(readFileSync(file, "utf8")).toBe(row.repeat(3000));
    expect(readdirSync(dir)).toEqual(["batch_metrics.csv"]);
  });
});

describe("collect's streamed summary", () => {
  it("batch_summary.json is byte for byte JSON.stringify(summary, null, 2), its tasks written one at a time", async () => {
    const { SummaryTasksSpool } = await import("../../../src/collect/summary-spool.js");
    const out = dir;
    mkdirSync(path.join(out, ".cst-batch"));
    // Non-ASCII, newlines in strings, and more than one 1 MB piece.
    const tasks = Array.from({ length: 3000 }, (_, i) => ({ index: i, subject: `sub-${i}`, error: i % 7 === 0 ? `Fehler: Größe ✗\nline 2 ${"x".repeat(600)}` : null }));
    const summary = { schema_version: 1, kind: "cst-batch-summary", counts: { total: 3000 }, tasks, problems: ["p ✗"], canary: null };
    const spool = new SummaryTasksSpool(out);
    for (const t of tasks) spool.add(t);
    spool.commit(path.join(out, "batch_summary.json"), { ...summary, tasks: [] });
    expect(readFileSync(path.join(out, "batch_summary.json"), "utf8")).toBe(JSON.stringify(summary, null, 2) + "\n");
    const empty = new SummaryTasksSpool(out);
    empty.commit(path.join(out, "empty.json"), { ...summary, tasks: [] });
    expect(readFileSync(path.join(out, "empty.json"), "utf8")).toBe(JSON.stringify({ ...summary, tasks: [] }, null, 2) + "\n");
    // The scratch files are gone.
    expect(readdirSync(path.join(out, ".cst-batch"))).toEqual([]);
  });
});
