import { writeFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import path from "node:path";
import { ASYNC_IO, readAllTaskStates, readTaskState, taskIoFor } from "../../../src/state/task-state.js";
import { mapLimit } from "../../../src/util/map-limit.js";
import {
  lockFile,
  makeTempOut,
  writeAttemptStart,
  writeCorruptAttempt,
  writeCorruptDone,
  writeDone,
  writeFailedAttempt,
  writeLogs,
  writePlan,
} from "../../helpers/collect-fixtures.js";
import { LOCK_OWNER, LockHolders } from "../../helpers/collect-lock.js";

let out: string;
let cleanup: () => void;
const locks = new LockHolders();
const holdLock = (file: string, owner?: object): Promise<void> => locks.hold(file, owner);
const OWNER = LOCK_OWNER;

beforeEach(() => {
  ({ out, cleanup } = makeTempOut("cst-state-"));
});
afterEach(async () => {
  await locks.stopAll();
  cleanup();
});

describe("readTaskState", () => {
  it("a task never run is pending with no attempts and no problems", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    const s = await readTaskState(out, task!);
    expect(s).toMatchObject({ status: "pending", done: "none", attempts: 0, started: false, problems: [], errorLogPath: null });
    expect(s.logPath).toBe("logs/sub-001.log");
  });

  it("a current _done.json is success and carries the run's duration, host, job and memory", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001", session: "ses-01" }]).tasks;
    writeFailedAttempt(out, task!, { finishedAt: "2026-01-03T08:00:00.000Z" });
    writeDone(out, task!, { durationSeconds: 12.5, host: "n7", jobId: "9_1", maxRssKb: 777 });
    const s = await readTaskState(out, task!);
    expect(s).toMatchObject({
      status: "success",
      done: "current",
      attempts: 2,
      durationSeconds: 12.5,
      host: "n7",
      jobId: "9_1",
      maxRssKb: 777,
      category: null,
      error: null,
    });
  });

  it("a _done.json of another config hash is pending (outdated by a config change)", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeDone(out, task!, { configHash: "old" });
    const s = await readTaskState(out, task!);
    expect(s.status).toBe("pending");
    expect(s.done).toBe("outdated");
    expect(s.attempts).toBe(1);
  });

  it("the latest failed attempt after an outdated done makes the task failed, with its category and message", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeDone(out, task!, { configHash: "old", finishedAt: "2026-01-02T00:00:00.000Z" });
    writeFailedAttempt(out, task!, { category: "PIPELINE_FAILED", finishedAt: "2026-01-03T01:00:00.000Z", message: "first" });
    writeFailedAttempt(out, task!, {
      category: "TIMEOUT",
      finishedAt: "2026-01-03T05:00:00.000Z",
      message: "timed out",
      durationSeconds: 7200,
      host: "n3",
      jobId: "12_4",
      maxRssKb: 99,
    });
    const s = await readTaskState(out, task!);
    expect(s).toMatchObject({
      status: "failed",
      category: "TIMEOUT",
      error: "timed out",
      attempts: 3,
      durationSeconds: 7200,
      host: "n3",
      jobId: "12_4",
      maxRssKb: 99,
    });
    expect(s.failedAttempts.map((a) => a.message)).toEqual(["first", "timed out"]);
  });

  it("failures older than an outdated done leave the task pending", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeFailedAttempt(out, task!, { finishedAt: "2026-01-01T00:00:00.000Z" });
    writeDone(out, task!, { configHash: "old", finishedAt: "2026-01-02T00:00:00.000Z" });
    expect((await readTaskState(out, task!)).status).toBe("pending");
  });

  it("a failure of an older config is pending (the current config has not been tried)", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeFailedAttempt(out, task!, { configHash: "old" });
    const s = await readTaskState(out, task!);
    expect(s.status).toBe("pending");
    expect(s.latestAttempt?.config_hash).toBe("old");
    expect(s.attempts).toBe(1);
  });

  it("a corrupt _done.json does not count as done and is reported by path", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    const file = writeCorruptDone(out, task!);
    const s = await readTaskState(out, task!);
    expect(s.status).toBe("pending");
    expect(s.done).toBe("corrupt");
    expect(s.problems).toHaveLength(1);
    expect(s.problems[0]).toContain(file);
  });

  it("a corrupt attempt record is reported by path and the valid ones still count", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    const bad = writeCorruptAttempt(out, task!);
    writeFailedAttempt(out, task!, { category: "OUT_OF_MEMORY" });
    const s = await readTaskState(out, task!);
    expect(s.status).toBe("failed");
    expect(s.category).toBe("OUT_OF_MEMORY");
    expect(s.attempts).toBe(1);
    expect(s.problems).toHaveLength(1);
    expect(s.problems[0]).toContain(bad);
  });

  it("_work/attempt.json left with nobody holding the lock is a stale attempt (as status counts it)", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeAttemptStart(out, task!);
    const s = await readTaskState(out, task!);
    expect(s.started).toBe(true);
    expect(s.status).toBe("stale");
    expect(s.attemptStart).not.toBeNull();
  });

  it("a current _done.json is success even with a leftover _work/ (a forced re-run under way)", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeDone(out, task!);
    writeAttemptStart(out, task!);
    const s = await readTaskState(out, task!);
    expect(s).toMatchObject({ status: "success", done: "current", attempts: 1, problems: [] });
  });

  it("a file where the subject folder should be is pending, not a problem", async () => {
    const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
    writeFileSync(path.join(out, task!.output_dir), "not a folder");
    for (const io of ["sync", "async"] as const) {
      const [s] = await readAllTaskStates(out, [task!], { io });
      expect(s).toMatchObject({ status: "pending", done: "none", attempts: 0, problems: [] });
    }
  });

  it("the error log path is given only when the file exists", async () => {
    const [a, b] = writePlan(out, [{ subject: "sub-001" }, { subject: "sub-002" }]).tasks;
    writeLogs(out, a!, true);
    writeLogs(out, b!, false);
    const [sa, sb] = await readAllTaskStates(out, [a!, b!]);
    expect(sa!.errorLogPath).toBe("logs/sub-001_error.log");
    expect(sb!.errorLogPath).toBeNull();
    expect((await readTaskState(out, a!)).errorLogPath).toBe("logs/sub-001_error.log");
  });

  describe("a held subject lock", () => {
    it("makes a started task running, with the owner's host and job", async () => {
      const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
      writeFailedAttempt(out, task!);
      writeAttemptStart(out, task!);
      await holdLock(lockFile(out, task!), OWNER);
      const s = await readTaskState(out, task!);
      expect(s.lock.kind).toBe("held");
      expect(s).toMatchObject({ status: "running", host: "node09", jobId: "555_2", category: null });
    });

    it("is probed without _work/ only when asked (probeAllLocks)", async () => {
      const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
      await holdLock(lockFile(out, task!));
      expect((await readTaskState(out, task!)).lock.kind).toBe("not-probed");
      const s = await readTaskState(out, task!, { probeAllLocks: true });
      expect(s.status).toBe("running");
      expect(s.host).toBeNull();
    });

    it("does not hide a current success", async () => {
      const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
      writeDone(out, task!);
      writeAttemptStart(out, task!);
      await holdLock(lockFile(out, task!), OWNER);
      expect((await readTaskState(out, task!)).status).toBe("success");
    });

    it("a released lock file left behind is free (the attempt it left is stale, not running)", async () => {
      const [task] = writePlan(out, [{ subject: "sub-001" }]).tasks;
      writeAttemptStart(out, task!);
      writeFileSync(lockFile(out, task!), JSON.stringify(OWNER));
      const s = await readTaskState(out, task!);
      expect(s.lock.kind).toBe("free");
      expect(s.status).toBe("stale");
    });
  });
});

describe("readAllTaskStates", () => {
  it("returns one state per task in plan order", async () => {
    const plan = writePlan(
      out,
      Array.from({ length: 40 }, (_, i) => ({ subject: `sub-${String(i).padStart(3, "0")}` })),
    );
    for (const t of plan.tasks) if (t.index % 3 === 0) writeDone(out, t);
    const states = await readAllTaskStates(out, plan.tasks, { concurrency: 4 });
    expect(states.map((s) => s.index)).toEqual(plan.tasks.map((t) => t.index));
    expect(states.filter((s) => s.status === "success")).toHaveLength(14);
  });
});

describe("file reading strategies", () => {
  it("sync and async reads give the same states", async () => {
    const plan = writePlan(out, [{ subject: "sub-001" }, { subject: "sub-002" }, { subject: "sub-003" }]);
    writeDone(out, plan.tasks[0]!);
    writeFailedAttempt(out, plan.tasks[1]!, { category: "NODE_FAIL" });
    writeCorruptAttempt(out, plan.tasks[1]!);
    writeLogs(out, plan.tasks[1]!, true);
    const viaSync = await readAllTaskStates(out, plan.tasks, { io: "sync" });
    const viaAsync = await readAllTaskStates(out, plan.tasks, { io: "async", concurrency: 2 });
    expect(viaAsync).toEqual(viaSync);
    expect(viaSync.map((s) => s.status)).toEqual(["success", "failed", "pending"]);
  });

  it("the async reader returns files larger than its first read whole", async () => {
    const file = path.join(out, "big.json");
    const text = JSON.stringify({ pad: "é".repeat(70_000) });
    writeFileSync(file, text);
    expect(await ASYNC_IO.readText(file)).toBe(text);
    await expect(ASYNC_IO.readText(path.join(out, "nope"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("auto picks sync reads on a local filesystem", async () => {
    expect((await taskIoFor(out)).mode).toBe("sync");
  });
});

describe("mapLimit", () => {
  it("keeps input order and never exceeds the limit", async () => {
    let inFlight = 0;
    let peak = 0;
    const r = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((res) => setTimeout(res, n));
      inFlight--;
      return n * 10;
    });
    expect(r).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});
