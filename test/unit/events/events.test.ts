import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendLineSync, jsonLine, MAX_LINE_BYTES } from "../../../src/events/append.js";
import { eventLine, recordEvent } from "../../../src/events/events.js";
import { readEvents as mergedEvents } from "../../../src/events/read-events.js";
import { eventsDir, hostEventLogPath, legacyEventLogPath } from "../../../src/layout.js";
import { runOne } from "../../../src/run/run-one.js";
import { makeStudy, type TestStudy } from "../../helpers/run-plan.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "cst-events-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const readEvents = (out: string): Record<string, unknown>[] => [...mergedEvents(out)].map((e) => e.record);

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
    expect(readdirSync(eventsDir(out))).toEqual([path.basename(hostEventLogPath(out))]);
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

/** Whether this machine lets a test give a process its own hostname (root, util-linux unshare). */
const canFakeHosts = spawnSync("unshare", ["--uts", "true"]).status === 0;

describe("event logs on several machines", () => {
  it("writers on different hosts never append to the same file, and the merged log is whole and in time order", async () => {
    const out = path.join(dir, "study");
    const events = path.resolve("dist/events/events.js");
    // Each writer records 200 events; writers 0-2 on host A, 3-5 on host B (own hostname through a UTS namespace).
    const script = `
      const { recordEvent } = await import(${JSON.stringify(events)});
      const w = Number(process.argv[1]);
      for (let i = 0; i < 200; i++) recordEvent(${JSON.stringify(out)}, { event: "finished", key: "sub-" + w + "-" + i, index: i, duration_seconds: w, max_rss_kb: null });`;
    const hosts = canFakeHosts ? ["cst-host-a", "cst-host-b"] : [null];
    const writers = Array.from({ length: 6 }, (_, w) => {
      const host = hosts[w % hosts.length];
      const node = [process.execPath, "--input-type=module", "-e", script, String(w)];
      const argv = host === null ? node : ["unshare", "--uts", "sh", "-c", `hostname ${host} && exec "$@"`, "sh", ...node];
      return new Promise<void>((resolve, reject) => {
        const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit" });
        child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`writer ${w} exited ${code}`))));
      });
    });
    await Promise.all(writers);

    const files = readdirSync(eventsDir(out)).sort();
    expect(files).toHaveLength(hosts.length);
    for (const name of files) {
      const lines = readFileSync(path.join(eventsDir(out), name), "utf8").split("\n").filter(Boolean);
      // One machine per file: every line of a file was written by the host the file is named for.
      const writtenBy = new Set(lines.map((l) => (JSON.parse(l) as { hostname: string }).hostname));
      expect(writtenBy.size).toBe(1);
      expect(name.startsWith(`${[...writtenBy][0]}`.replace(/[^A-Za-z0-9._-]/g, "_"))).toBe(true);
    }
    const stats = { files: 0, damaged: 0 };
    const merged = [...mergedEvents(out, stats)];
    expect(stats).toEqual({ files: hosts.length, damaged: 0 });
    expect(merged).toHaveLength(6 * 200);
    expect(new Set(merged.map((e) => e.record.key)).size).toBe(6 * 200);
    for (let i = 1; i < merged.length; i++) expect(merged[i]!.time).toBeGreaterThanOrEqual(merged[i - 1]!.time);
  }, 60_000);

  it("an old study's events.jsonl is read with the per-host files, merged by time", () => {
    const out = path.join(dir, "old");
    mkdirSync(path.dirname(legacyEventLogPath(out)), { recursive: true });
    const line = (time: number, msg: string): string => JSON.stringify({ level: 30, time, pid: 1, hostname: "old", msg });
    writeFileSync(legacyEventLogPath(out), [line(1000, "a"), line(3000, "c"), "{torn"].join("\n") + "\n");
    mkdirSync(eventsDir(out));
    writeFileSync(path.join(eventsDir(out), "n1-00000000.jsonl"), [line(2000, "b"), line(5000, "e")].join("\n") + "\n");
    writeFileSync(path.join(eventsDir(out), "n2-00000000.jsonl"), line(4000, "d") + "\n" + line(6000, "f"));
    const stats = { files: 0, damaged: 0 };
    expect([...mergedEvents(out, stats)].map((e) => e.record.msg)).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(stats).toEqual({ files: 3, damaged: 1 });
    // Nothing more is appended to the old file.
    expect(recordEvent(out, { event: "collected", plan_id: "p", counts: {}, by_category: {}, problems: 0 })).toBe(true);
    expect(readFileSync(legacyEventLogPath(out), "utf8").split("\n").filter(Boolean)).toHaveLength(3);
    expect(existsSync(hostEventLogPath(out))).toBe(true);
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
