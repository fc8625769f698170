import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendLineSync, jsonLine, MAX_LINE_BYTES } from "../../../src/events/append.js";
import { eventLine, recordEvent } from "../../../src/events/events.js";
import { eventLogPath } from "../../../src/layout.js";
import { runOne } from "../../../src/run/run-one.js";
import { makeStudy, type TestStudy } from "../../helpers/run-plan.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "cst-events-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const readEvents = (out: string): Record<string, unknown>[] =>
  readFileSync(eventLogPath(out), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("event log lines", () => {
  it("are pino-format JSON lines: level, time, pid, hostname, msg, then the event's fields", () => {
    const line = eventLine({ event: "failed", key: "sub-01", index: 3, category: "TIMEOUT", message: "m", next_step: "n", attempt_dir: null, duration_seconds: 5 }, new Date(1_700_000_000_000));
    const o = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(o).slice(0, 5)).toEqual(["level", "time", "pid", "hostname", "msg"]);
    expect(o).toMatchObject({ level: 50, time: 1_700_000_000_000, pid: process.pid, msg: "sub-01: failed TIMEOUT", event: "failed", category: "TIMEOUT" });
  });

  it("stay under the size limit: long fields are shortened and marked", () => {
    const line = jsonLine({ level: 30, msg: "x" }, { argv: Array.from({ length: 500 }, (_, i) => `/very/long/path/number/${i}/`.repeat(3)), message: "y".repeat(10_000) });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_LINE_BYTES);
    expect(JSON.parse(line)).toMatchObject({ level: 30, msg: "x", truncated: true });
  });

  it("creates the state folder when needed and never throws when it cannot write", () => {
    const out = path.join(dir, "new-out");
    expect(recordEvent(out, { event: "collected", plan_id: "p", counts: { success: 1 }, by_category: {}, problems: 0 })).toBe(true);
    expect(readEvents(out)).toHaveLength(1);
    expect(appendLineSync(dir, path.join(dir, "nofile", "\0bad"), "x")).toBe(false);
  });

  it("concurrent writers in separate processes append whole lines", async () => {
    const file = path.join(dir, "events.jsonl");
    // The built module (npm test builds first): plain node runs the writers, as on a cluster.
    const appender = path.resolve("dist/events/append.js");
    const script = `
      const { appendLineSync } = await import(${JSON.stringify(appender)});
      const w = process.argv[2];
      for (let i = 0; i < 300; i++) appendLineSync(${JSON.stringify(dir)}, ${JSON.stringify(file)}, JSON.stringify({ w, i, pad: "x".repeat(1500) }));`;
    const writers = Array.from({ length: 6 }, (_, w) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", script, String(w)], { stdio: "inherit" });
        child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))));
      }),
    );
    await Promise.all(writers);
    const lines = (await fsp.readFile(file, "utf8")).split("\n").filter(Boolean);
    expect(lines).toHaveLength(6 * 300);
    for (const l of lines) expect(JSON.parse(l).pad).toHaveLength(1500);
  });
});

describe("run-one's events and subject logs", () => {
  let s: TestStudy;
  beforeEach(async () => {
    s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }]);
  });
  afterEach(() => rmSync(s.root, { recursive: true, force: true }));

  it("a success logs started, promoted and finished; the subject log ends with the promotion and outcome", async () => {
    const o = await runOne({ planFile: s.planFile, index: 0, env: s.env, jobId: null });
    expect(o.kind).toBe("success");
    const events = readEvents(s.out).filter((e) => e.key === "sub-001");
    expect(events.map((e) => e.event)).toEqual(["started", "promoted", "finished"]);
    expect(events[0]).toMatchObject({ plan_id: "p-test", index: 0 });
    const log = readFileSync(path.join(s.out, "logs", "sub-001.log"), "utf8").trimEnd().split("\n");
    expect(log[0]).toMatch(/^# cst-batch .* attempt started/);
    expect(log.some((l) => l.startsWith("# argv: "))).toBe(true);
    expect(log.at(-2)).toMatch(/^\S+Z cst\| promoted \d+ file\(s\) into .*_done\.json written$/);
    expect(log.at(-1)).toMatch(/^\S+Z cst\| outcome: success in [\d.]+ s$/);
  });

  it("a failure logs failed with its category; the error log ends with the category and the next step", async () => {
    await s.setBehaviours({ "sub-002": "fail" });
    const o = await runOne({ planFile: s.planFile, index: 1, env: s.env, jobId: null });
    expect(o.kind).toBe("failed");
    const events = readEvents(s.out).filter((e) => e.key === "sub-002");
    expect(events.map((e) => e.event)).toEqual(["started", "failed"]);
    expect(events[1]).toMatchObject({ level: 50, category: "PIPELINE_FAILED" });
    const errorLog = readFileSync(path.join(s.out, "logs", "sub-002_error.log"), "utf8").trimEnd().split("\n");
    expect(errorLog.at(-2)).toMatch(/cst\| outcome: failed PIPELINE_FAILED: csttool exited with status/);
    expect(errorLog.at(-1)).toMatch(/cst\| next step \(PIPELINE_FAILED\): read the subject's error log/);
  });
});
