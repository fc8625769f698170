import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { supervise } from "../../../src/run/supervise.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("an abort that comes while the child is being started (before its spawn event) still stops it", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cst-supervise-"));
  dirs.push(dir);
  const controller = new AbortController();
  const running = supervise({
    argv: ["sleep", "30"],
    env: process.env,
    token: "t-abort-at-spawn",
    logRoot: dir, logFile: path.join(dir, "log"),
    logHeader: "# test",
    timeoutMs: null,
    graceMs: 1000,
    signal: controller.signal,
  });
  // supervise has spawned the child synchronously and now waits for its "spawn" event.
  controller.abort("CANCELLED");
  const r = await running;
  expect(r.reason).toBe("aborted");
  expect(r.category).toBe("CANCELLED");
  expect(r.signal).toBe("SIGTERM");
  expect(r.survivors).toEqual([]);
}, 20_000);
