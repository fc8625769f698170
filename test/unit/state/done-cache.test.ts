import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DONE_FILE, statusCachePath } from "../../../src/layout.js";
import { DoneCacheEntrySchema, DoneCacheHeaderSchema } from "../../../src/schemas/status-cache.js";
import { DoneRecordCache, fileIdentity, loadDoneRecordCache, saveDoneRecordCache } from "../../../src/state/done-cache.js";
import { readAllTaskStates } from "../../../src/state/task-state.js";
import { readStatus } from "../../../src/status/status.js";
import { makeTempOut, writeDone, writeFailedAttempt, writePlan } from "../../helpers/collect-fixtures.js";

let out: string;
let cleanup: () => void;
beforeEach(() => {
  ({ out, cleanup } = makeTempOut("cst-done-cache-"));
});
afterEach(() => cleanup());

/** The cache file: a header line, then one entry per line. */
const readCache = (file: string) => {
  const [head, ...lines] = readFileSync(file, "utf8").trimEnd().split("\n");
  DoneCacheHeaderSchema.parse(JSON.parse(head!));
  return { entries: lines.map((l) => DoneCacheEntrySchema.parse(JSON.parse(l))) };
};
/** The cache file with the first entry's host replaced (as if the cache said otherwise than the file). */
const editFirstHost = (file: string, host: string): void => {
  const [head, first, ...rest] = readFileSync(file, "utf8").split("\n");
  const e = JSON.parse(first!);
  e.record.host = host;
  writeFileSync(file, [head, JSON.stringify(e), ...rest].join("\n"));
};
const doneFile = (dir: string): string => path.join(out, dir, DONE_FILE);
const status = () => readStatus(out, { queryScheduler: false });
const rowsOf = (r: Awaited<ReturnType<typeof status>>) => r.rows.map(({ durationSeconds: _d, ...row }) => row);

describe("the status cache of done records", () => {
  it("a status saves the done records it read; the next one gives the same rows from it", async () => {
    const tasks = writePlan(out, [{ subject: "sub-001" }, { subject: "sub-002" }, { subject: "sub-003" }]).tasks;
    writeDone(out, tasks[0]!, { host: "n1" });
    writeDone(out, tasks[1]!, { configHash: "old", finishedAt: "2026-01-02T00:00:00.000Z" });
    writeFailedAttempt(out, tasks[1]!, { finishedAt: "2026-01-03T00:00:00.000Z" });
    const first = await status();
    const saved = readCache(statusCachePath(out));
    expect(saved.entries.map((e) => e.dir).sort()).toEqual([tasks[0]!.output_dir, tasks[1]!.output_dir]);
    expect(saved.entries.find((e) => e.dir === tasks[0]!.output_dir)!.id).toBe(fileIdentity(statSync(doneFile(tasks[0]!.output_dir))));
    const second = await status();
    expect(rowsOf(second)).toEqual(rowsOf(first));
    expect(second.rows.map((r) => r.state)).toEqual(["done", "failed", "never-submitted"]);
  });

  it("a record is taken from the cache while its _done.json keeps its identity", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeDone(out, task!, { host: "on-disk" });
    await status();
    editFirstHost(statusCachePath(out), "from-cache");
    const [s] = await readAllTaskStates(out, [task!], { io: "sync", doneCache: loadDoneRecordCache(out) });
    expect(s!.host).toBe("from-cache");
  });

  it("the async reader (network filesystems) fills and uses the cache like the blocking one", async () => {
    const tasks = writePlan(out, [{ subject: "sub-001" }, { subject: "sub-002" }]).tasks;
    writeDone(out, tasks[0]!, { host: "n1" });
    const filled = new DoneRecordCache();
    const cold = await readAllTaskStates(out, tasks, { io: "async", doneCache: filled });
    saveDoneRecordCache(out, filled);
    const warm = await readAllTaskStates(out, tasks, { io: "async", doneCache: loadDoneRecordCache(out) });
    const sync = await readAllTaskStates(out, tasks, { io: "sync" });
    expect(warm).toEqual(cold);
    expect(warm).toEqual(sync);
    // Taken from the cache, not the file:
    editFirstHost(statusCachePath(out), "from-cache");
    const [s] = await readAllTaskStates(out, tasks, { io: "async", doneCache: loadDoneRecordCache(out) });
    expect(s!.host).toBe("from-cache");
  });

  it("a replaced _done.json is read again (another config: the task is outdated, not done)", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeDone(out, task!, { host: "first" });
    expect((await status()).rows[0]!.state).toBe("done");
    // As run-one replaces it: a new file renamed over the old one.
    const file = doneFile(task!.output_dir);
    const record = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...record, config_hash: "sha256:other", host: "second" }));
    renameSync(`${file}.tmp`, file);
    const r = await status();
    expect(r.rows[0]!.state).toBe("never-submitted");
    const saved = readCache(statusCachePath(out));
    expect(saved.entries[0]!.record.host).toBe("second");
  });

  it("a removed _done.json is neither shown nor kept in the cache", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeDone(out, task!);
    await status();
    rmSync(doneFile(task!.output_dir));
    expect((await status()).rows[0]!.state).toBe("never-submitted");
    expect(readCache(statusCachePath(out)).entries).toEqual([]);
  });

  it("an unchanged cache is not rewritten", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeDone(out, task!);
    await status();
    const before = statSync(statusCachePath(out));
    await status();
    const after = statSync(statusCachePath(out));
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  it("a damaged cache, or one of a newer cst-batch, is ignored and rebuilt", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeDone(out, task!, { host: "n7" });
    for (const text of ['{"schema_version":1,"kind":"cst-batch-status-cache","entries":[{"dir":', JSON.stringify({ schema_version: 99, kind: "x" })]) {
      writeFileSync(statusCachePath(out), text);
      const r = await status();
      expect(r.rows[0]!.state).toBe("done");
      expect(r.problems).toEqual([]);
      expect(readCache(statusCachePath(out)).entries[0]!.record.host).toBe("n7");
    }
  });

  it("status works when the cache cannot be written", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeDone(out, task!);
    mkdirSync(statusCachePath(out)); // a folder in its place: the rename onto it fails
    const r = await status();
    expect(r.rows[0]!.state).toBe("done");
    expect(r.problems).toEqual([]);
  });

  it("the cache is written in plan order; a plan in another order still gets its records right (out-of-order ones read again)", async () => {
    const tasks = writePlan(out, [{ subject: "sub-001" }, { subject: "sub-002" }, { subject: "sub-003" }]).tasks;
    for (const [i, t] of tasks.entries()) writeDone(out, t, { host: `n${i + 1}` });
    await status();
    expect(readCache(statusCachePath(out)).entries.map((e) => e.record.host)).toEqual(["n1", "n2", "n3"]);
    // The same subjects planned in another order (the cache's order no longer matches).
    const again = writePlan(out, [{ subject: "sub-003" }, { subject: "sub-001" }, { subject: "sub-002" }]).tasks;
    for (const [i, t] of again.entries()) writeDone(out, t, { host: `m${i + 1}` });
    const r = await status();
    expect(r.rows.map((row) => [row.subject, row.state])).toEqual([["sub-003", "done"], ["sub-001", "done"], ["sub-002", "done"]]);
    expect(readCache(statusCachePath(out)).entries.map((e) => [e.dir.split(path.sep)[0], e.record.host])).toEqual([["sub-003", "m1"], ["sub-001", "m2"], ["sub-002", "m3"]]);
  });

  it("a cache with nothing read and nothing known writes no file", () => {
    const cache = new DoneRecordCache();
    expect(cache.changed).toBe(false);
    saveDoneRecordCache(out, cache);
    expect(existsSync(statusCachePath(out))).toBe(false);
  });
});
