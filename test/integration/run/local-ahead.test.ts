import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { runLocal } from "../../../src/local/run-local.js";
import { probeLock } from "../../../src/run/lock.js";
import { makeStudy, type TestStudy } from "../../helpers/run-plan.js";

/** Local mode takes a worker's next lock early (while the current output is promoted). */

let saved: NodeJS.ProcessEnv;
beforeEach(() => {
  saved = { ...process.env };
});
afterEach(() => {
  process.env = saved;
});

function useStudyEnv(s: TestStudy): void {
  for (const k of ["CSTTOOL_STANDIN_ARGV_LOG", "CSTTOOL_STANDIN_CONFIG", "CSTTOOL_STANDIN_BEHAVIOR"]) process.env[k] = s.env[k];
}

const exists = (p: string): Promise<boolean> => fsp.access(p).then(() => true, () => false);

test("every task runs once, in order, each lock free afterwards", async () => {
  const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }, { subject: "sub-003" }]);
  useStudyEnv(s);
  const r = await runLocal({ planFile: s.planFile, plan: s.plan, indices: [0, 1, 2], jobs: 1 });
  expect(r.results.map((x) => [x.index, x.outcome.kind])).toEqual([
    [0, "success"],
    [1, "success"],
    [2, "success"],
  ]);
  expect(await s.runCount()).toBe(3);
  for (const sub of ["sub-001", "sub-002", "sub-003"]) expect((await probeLock(path.join(s.out, sub, "_lock"))).kind).toBe("free");
});

test("a stop with the next task's lock already taken lets it go; that task is not started", async () => {
  const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }, { subject: "sub-003" }]);
  useStudyEnv(s);
  const controller = new AbortController();
  const r = await runLocal({
    planFile: s.planFile,
    plan: s.plan,
    indices: [0, 1, 2],
    jobs: 1,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.last?.index === 0) controller.abort("CANCELLED");
    },
  });
  expect(r.interrupted).toBe(true);
  expect(r.results.map((x) => [x.index, x.outcome.kind])).toEqual([[0, "success"]]);
  expect(await s.runCount()).toBe(1);
  // sub-002's lock was taken ahead (its owner, this process, is in the lock file) and released.
  const owner = JSON.parse(await fsp.readFile(path.join(s.out, "sub-002", "_lock"), "utf8")) as { pid: number };
  expect(owner.pid).toBe(process.pid);
  expect((await probeLock(path.join(s.out, "sub-002", "_lock"))).kind).toBe("free");
  expect(await exists(path.join(s.out, "sub-002", "_work"))).toBe(false);
  expect(await exists(path.join(s.out, "sub-003"))).toBe(false);
});
