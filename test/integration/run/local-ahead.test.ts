import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { readEvents } from "../../../src/events/read-events.js";
import { runLocal } from "../../../src/local/run-local.js";
import { probeLock } from "../../../src/lock/lock.js";
import { makeStudy, rewritePlan, type TestStudy } from "../../helpers/run-plan.js";

/** Local mode starts a worker's next task before it promotes the finished one's output. */

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

test("tasks that end before csttool (done, inputs gone) do not end the worker's run", async () => {
  const s = await makeStudy(["sub-001", "sub-002", "sub-003", "sub-004", "sub-005"].map((subject) => ({ subject })));
  useStudyEnv(s);
  await runLocal({ planFile: s.planFile, plan: s.plan, indices: [1], jobs: 1 });
  await fsp.rm(path.join(s.root, "inputs", "sub-003_dwi.nii.gz"));
  const r = await runLocal({ planFile: s.planFile, plan: s.plan, indices: [0, 1, 2, 3, 4], jobs: 1 });
  expect(r.results.map((x) => [x.index, x.outcome.kind, x.outcome.kind === "failed" ? x.outcome.category : null])).toEqual([
    [0, "success", null],
    [1, "skipped", null],
    [2, "failed", "INPUT_MISSING"],
    [3, "success", null],
    [4, "success", null],
  ]);
  expect(r.progress.left).toBe(0);
  for (const sub of ["sub-001", "sub-002", "sub-003", "sub-004", "sub-005"]) expect((await probeLock(path.join(s.out, sub, "_lock"))).kind).toBe("free");
});

test("the next csttool starts only once the finished one's leftover processes are gone", async () => {
  const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }], { graceSeconds: 1 });
  // sub-001 leaves a process that ignores SIGTERM (so it lives until the SIGKILL after the
  // grace); sub-002 notes whether that process still lives when it starts.
  const tool = path.join(s.root, "leaves-one-behind.sh");
  await fsp.writeFile(
    tool,
    `#!/bin/sh
out=""; sub=""
while [ $# -gt 0 ]; do case "$1" in --out) out=$2; shift ;; --subject-id) sub=$2; shift ;; esac; shift; done
if [ -f "$STATE/leftover.pid" ]; then
  state=$(cut -d' ' -f3 "/proc/$(cat "$STATE/leftover.pid")/stat" 2>/dev/null)
  echo "$sub \${state:-gone}" >> "$STATE/seen"
fi
if [ "$sub" = "001" ]; then
  sh -c 'trap "" TERM; echo $$ > "$STATE/leftover.pid.tmp"; mv "$STATE/leftover.pid.tmp" "$STATE/leftover.pid"; exec sleep 30' </dev/null >/dev/null 2>&1 &
  while [ ! -f "$STATE/leftover.pid" ]; do sleep 0.05; done
fi
mkdir -p "$out/sub-$sub/reports"
printf '{"metrics": {}}\n' > "$out/sub-$sub/reports/sub-\${sub}_metrics.json"
`,
    { mode: 0o755 },
  );
  await rewritePlan(s, (plan) => {
    plan.csttool.executable = tool;
  });
  process.env.STATE = s.root;
  const r = await runLocal({ planFile: s.planFile, plan: s.plan, indices: [0, 1], jobs: 1 });
  expect(r.results.map((x) => x.outcome.kind)).toEqual(["success", "success"]);
  // When sub-002 started, sub-001's leftover was gone (or at most a zombie waiting to be reaped).
  const seen = (await fsp.readFile(path.join(s.root, "seen"), "utf8")).trim();
  expect(seen).toMatch(/^002 (gone|Z)$/);
}, 30_000);

async function events(out: string): Promise<{ event: string; index: number }[]> {
  return [...readEvents(out)].map((e) => e.record as { event: string; index: number });
}

test("the next csttool starts before the finished output is promoted, never while the last one runs", async () => {
  const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }, { subject: "sub-003" }]);
  useStudyEnv(s);
  await s.setBehaviours({ "sub-001": "sleep:0.3", "sub-002": "sleep:0.3", "sub-003": "sleep:0.3" });
  const r = await runLocal({ planFile: s.planFile, plan: s.plan, indices: [0, 1, 2], jobs: 1 });
  expect(r.results.map((x) => x.outcome.kind)).toEqual(["success", "success", "success"]);
  // Each run lives >= 0.3 s and the next starts only after it exited.
  const starts = (await fsp.readFile(s.argvLog, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { argv: string[]; time: string })
    .filter((l) => l.argv[0] === "run")
    .map((l) => Date.parse(l.time));
  expect(starts).toHaveLength(3);
  for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(300);
  // Task i is promoted after task i + 1 has started.
  const log = await events(s.out);
  const at = (event: string, index: number): number => log.findIndex((e) => e.event === event && e.index === index);
  for (const i of [0, 1]) {
    expect(at("started", i + 1)).toBeGreaterThan(-1);
    expect(at("started", i + 1)).toBeLessThan(at("promoted", i));
  }
  expect(at("promoted", 2)).toBeGreaterThan(at("started", 2));
});

test("a stop cancels the task already started behind the finished one; later tasks are not started, and recorded CANCELLED", async () => {
  const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }, { subject: "sub-003" }]);
  useStudyEnv(s);
  await s.setBehaviours({ "sub-001": "sleep:0.5", "sub-002": "sleep:0.5", "sub-003": "sleep:0.5" });
  const controller = new AbortController();
  const r = await runLocal({
    planFile: s.planFile,
    plan: s.plan,
    indices: [0, 1, 2],
    jobs: 1,
    graceSeconds: 1,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.last?.index === 0) controller.abort("CANCELLED");
    },
  });
  expect(r.interrupted).toBe(true);
  expect(r.results.map((x) => [x.index, x.outcome.kind, x.outcome.kind === "failed" ? x.outcome.category : null])).toEqual([
    [0, "success", null],
    [1, "failed", "CANCELLED"],
    [2, "failed", "CANCELLED"],
  ]);
  // sub-002's csttool was started (it may have been stopped before its first line) and recorded as cancelled.
  const attempts = await fsp.readdir(path.join(s.out, "sub-002", "_failed_attempts"));
  expect(attempts).toHaveLength(1);
  expect(attempts[0]).toMatch(/_CANCELLED$/);
  for (const sub of ["sub-001", "sub-002"]) expect((await probeLock(path.join(s.out, sub, "_lock"))).kind).toBe("free");
  expect(await exists(path.join(s.out, "sub-002", "_work"))).toBe(false);
  expect(await exists(path.join(s.out, "sub-002", "_done.json"))).toBe(false);
  // sub-003 never started: recorded CANCELLED (so status shows it and resubmit --category CANCELLED reruns it), no csttool run
  const later = await fsp.readdir(path.join(s.out, "sub-003", "_failed_attempts"));
  expect(later).toHaveLength(1);
  const record = JSON.parse(await fsp.readFile(path.join(s.out, "sub-003", "_failed_attempts", later[0]!, "attempt.json"), "utf8"));
  expect(record).toMatchObject({ category: "CANCELLED", exit_code: null });
  expect(record.message).toMatch(/^not started: the run was stopped before this subject's turn/);
  expect(await exists(path.join(s.out, "sub-003", "_lock")) ? (await probeLock(path.join(s.out, "sub-003", "_lock"))).kind : "free").toBe("free");
});
