import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";

/** Local mode's guards for a numerical pipeline: the canary, the thread variables, --jobs from memory. */

function setup(behaviour: string) {
  const dir = tempDir("cst-e2e-canary-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const out = path.join(dir, "out");
  const argvLog = path.join(dir, "argv.jsonl");
  return { bids, out, argvLog, env: { CSTTOOL_STANDIN_ARGV_LOG: argvLog, CSTTOOL_STANDIN_BEHAVIOR: behaviour } };
}

describe("local mode: canary", () => {
  it("stops starting subjects once the first K all failed with a SYSTEM problem; the rest stay pending, not failed", () => {
    const s = setup("env-check-failed");
    const r = runCli(["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--jobs", "1", "--canary", "1"], { env: s.env });
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(r.code).toBe(EXIT.SYSTEM);
    const ran = standinCalls(s.argvLog).length;
    // at most K + jobs - 1: while the canary is undecided a worker starts its next subject only
    // once the finished one is classified, so one worker stops right after the K-th
    expect(ran).toBe(1);
    expect(r.stderr).toContain("canary:");
    expect(r.stderr).toContain("csttool doctor");
    const summary = readJson(path.join(s.out, "batch_summary.json"));
    expect(summary.counts).toMatchObject({ total: 4, failed: ran, pending: 4 - ran });
    expect(summary.by_category).toMatchObject({ SYSTEM: ran });
  });

  it("status and collect name the local run's canary verdict, the subjects it did not start and a resubmit that runs them after the fix", () => {
    const s = setup("env-check-failed");
    const r = runCli(["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--jobs", "1", "--canary", "1"], { env: s.env });
    expect(r.code).toBe(EXIT.SYSTEM);
    const ran = standinCalls(s.argvLog).length;
    const next = `cst-batch resubmit --out ${s.out}`;
    expect(r.stderr).toContain(next);

    const st = runCli(["status", "--out", s.out, "--json"], { env: s.env });
    expect(st.code, st.stderr).toBe(0);
    const j = JSON.parse(st.stdout);
    expect(j.totals).toMatchObject({ failed: ran, "not-run": 4 - ran });
    expect(j.canary).toMatchObject({ submission_id: "local", not_run: 4 - ran });
    expect(j.canary.message).toContain("User data dir: not writable");
    for (const t of j.tasks.filter((x: { state: string }) => x.state === "not-run")) expect(t.reason).toContain("canary of the local run");
    const human = runCli(["status", "--out", s.out], { env: s.env });
    expect(human.stdout).toContain("canary: the local run stopped");
    expect(human.stdout).toContain(next);
    // A `--category SYSTEM` rerun would leave the stopped tasks behind: only the canary's step is offered.
    expect(human.stdout).not.toContain("--category SYSTEM");
    const summary = readJson(path.join(s.out, "batch_summary.json"));
    expect(summary.canary).toMatchObject({ submission_id: "local" });
    expect(summary.canary.not_run).toHaveLength(4 - ran);

    // After the fix, the command named runs the rest, and the verdict is gone.
    const fixed = { ...s.env, CSTTOOL_STANDIN_BEHAVIOR: "succeed" };
    const again = runCli(next.split(" ").slice(1), { env: fixed });
    expect(again.code, again.stderr).toBe(0);
    const after = JSON.parse(runCli(["status", "--out", s.out, "--json"], { env: fixed }).stdout);
    expect(after.totals).toMatchObject({ total: 4, done: 4 });
    expect(after.canary).toBeNull();
    expect(readJson(path.join(s.out, "batch_summary.json")).canary).toBeUndefined();
  });

  it("one worker stops right after the K-th SYSTEM failure (K = 2: exactly 2 csttool runs, not 3)", () => {
    const s = setup("env-check-failed");
    const r = runCli(["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--jobs", "1", "--canary", "2"], { env: s.env });
    expect(r.code).toBe(EXIT.SYSTEM);
    expect(standinCalls(s.argvLog)).toHaveLength(2);
    expect(readJson(path.join(s.out, "batch_summary.json")).counts).toMatchObject({ failed: 2, pending: 2 });
  });

  it("--canary 0 runs every subject", () => {
    const s = setup("env-check-failed");
    const r = runCli(["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--jobs", "1", "--canary", "0"], { env: s.env });
    expect(r.code).toBe(EXIT.SUBJECT_FAILED);
    expect(r.stderr).not.toContain("canary:");
    expect(standinCalls(s.argvLog)).toHaveLength(4);
    expect(readJson(path.join(s.out, "batch_summary.json")).counts).toMatchObject({ failed: 4, pending: 0 });
  });

  it("a usage error for a --canary that is not a whole number", () => {
    const s = setup("succeed");
    const r = runCli(["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--canary", "x"], { env: s.env });
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain("--canary must be a whole number >= 0");
  });
});

describe("local mode: threads and --jobs", () => {
  it("csttool gets OMP_NUM_THREADS etc. = cores ÷ jobs, except a variable the user set", () => {
    const s = setup("succeed");
    const r = runCli(["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--jobs", "4"], {
      env: { ...s.env, MKL_NUM_THREADS: "7" },
    });
    expect(r.code).toBe(EXIT.OK);
    const calls = standinCalls(s.argvLog) as unknown as { threads: Record<string, string | null> }[];
    expect(calls).toHaveLength(4);
    for (const c of calls) {
      expect(c.threads.OMP_NUM_THREADS).toMatch(/^\d+$/);
      expect(c.threads.OPENBLAS_NUM_THREADS).toBe(c.threads.OMP_NUM_THREADS);
      expect(c.threads.NUMEXPR_NUM_THREADS).toBe(c.threads.OMP_NUM_THREADS);
      expect(c.threads.MKL_NUM_THREADS).toBe("7");
    }
    // the subject's log says what was set
    const log = readFileSync(path.join(s.out, "logs", "sub-02.log"), "utf8");
    expect(log).toMatch(/# threads: \d+ CPU\(s\) \(local-share\): set OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, NUMEXPR_NUM_THREADS/);
    expect(log).toContain("kept as set: MKL_NUM_THREADS");
  });

  it("without --jobs the default is printed with the figures it came from; --mem-per-subject larger than the memory gives 1", () => {
    const s = setup("succeed");
    const r = runCli(["submit", "--scheduler", "local", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--mem-per-subject", "100000G"], { env: s.env });
    expect(r.code).toBe(EXIT.OK);
    expect(r.stderr + r.stdout).toMatch(/--jobs not given: 1 at once = min\(\d+ CPU\(s\), [\d.]+ GiB available ÷ 100000\.0 GiB per subject \(--mem-per-subject\)\)/);
    expect(r.stderr + r.stdout).toContain("with 1 worker(s)");
  });
});
