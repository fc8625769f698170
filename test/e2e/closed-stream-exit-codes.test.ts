import { describe, expect, it } from "vitest";
import { readCurrentPlan } from "../helpers/plan-file.js";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EXIT } from "../../src/errors.js";
import { CLI, makeDemoBids, readJson, REPO, STANDIN, tempDir } from "../helpers/cli.js";

type Closed = "stdout" | "stderr" | "both";

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Start the built CLI with stdout and/or stderr a pipe whose reading end is closed at once (the
 * reader went away: `| head`, `| true`, a killed `tee`); the other stream is read and discarded.
 */
function startClosed(args: string[], closed: Closed, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const name of ["stdout", "stderr"] as const) {
    if (closed === name || closed === "both") child[name].destroy();
    else child[name].resume();
  }
  const done = new Promise<Exit>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, done };
}

function runClosed(args: string[], closed: Closed, env: Record<string, string> = {}): Promise<Exit> {
  return startClosed(args, closed, env).done;
}

/** `set -o pipefail; cst-batch ... 2>&1 | true`: the shell's view of the real exit code. */
function runThroughTrue(args: string[], env: Record<string, string> = {}): number | null {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `set -o pipefail; ${quoted} 2>&1 | true; echo "code=\${PIPESTATUS[0]}"`], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: "1", ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  const m = /code=(\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

function study(behaviours: Record<string, string>) {
  const dir = tempDir("cst-closed-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const out = path.join(dir, "out");
  const config = path.join(dir, "standin.json");
  writeFileSync(config, JSON.stringify(behaviours));
  const argvLog = path.join(dir, "argv.jsonl");
  const env = { CSTTOOL_STANDIN_CONFIG: config, CSTTOOL_STANDIN_ARGV_LOG: argvLog };
  const submit = (...extra: string[]) => ["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--jobs", "2", ...extra];
  return { dir, bids, out, env, argvLog, submit };
}

/** sub-02 failed and was recorded as such; collect wrote its summary. */
function expectFailureRecorded(out: string): void {
  const attempts = readdirSync(path.join(out, "sub-02", "_failed_attempts"));
  expect(attempts).toHaveLength(1);
  expect(attempts[0]).toMatch(/_PIPELINE_FAILED$/);
  expect(existsSync(path.join(out, "sub-02", "_done.json"))).toBe(false);
  for (const done of ["sub-01/ses-01", "sub-01/ses-02", "sub-03"]) expect(existsSync(path.join(out, done, "_done.json"))).toBe(true);
  expect(readJson(path.join(out, "batch_summary.json")).counts).toMatchObject({ total: 4, success: 3, failed: 1 });
}

async function waitFor(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("exit codes are never masked by a closed stdout or stderr", () => {
  for (const closed of ["stderr", "stdout", "both"] as const) {
    it(`a local submit with one failing subject exits 4 with records and summary written (${closed} closed)`, async () => {
      const s = study({ "sub-02": "fail" });
      const r = await runClosed(s.submit(), closed, s.env);
      expect(r).toEqual({ code: EXIT.SUBJECT_FAILED, signal: null });
      expectFailureRecorded(s.out);
    });
  }

  it("a local submit with one failing subject exits 4 with --json and both streams closed", async () => {
    const s = study({ "sub-02": "fail" });
    const r = await runClosed(s.submit("--json"), "both", s.env);
    expect(r).toEqual({ code: EXIT.SUBJECT_FAILED, signal: null });
    expectFailureRecorded(s.out);
  });

  it("`submit ... 2>&1 | true` reports 4 to the shell, not 0", () => {
    const s = study({ "sub-02": "fail" });
    expect(runThroughTrue(s.submit(), s.env)).toBe(EXIT.SUBJECT_FAILED);
    expectFailureRecorded(s.out);
  });

  for (const json of [false, true]) {
    it(`an interrupted local submit exits 130, records CANCELLED and writes the summary (both streams closed${json ? ", --json" : ""})`, async () => {
      const s = study({ "sub-02": "sleep:60" });
      const run = startClosed(s.submit(...(json ? ["--json"] : [])), "both", s.env);
      // sub-02's csttool has started (the stand-in logs its argv first thing).
      await waitFor(() => existsSync(path.join(s.out, "sub-02", "_work")), "sub-02 to start");
      await waitFor(() => ["sub-01/ses-01", "sub-01/ses-02", "sub-03"].every((d) => existsSync(path.join(s.out, d, "_done.json"))), "the quick subjects");
      run.child.kill("SIGINT");
      const r = await run.done;
      expect(r).toEqual({ code: EXIT.INTERRUPTED, signal: null });
      const attempts = readdirSync(path.join(s.out, "sub-02", "_failed_attempts"));
      expect(attempts).toHaveLength(1);
      expect(attempts[0]).toMatch(/_CANCELLED$/);
      const summary = readJson(path.join(s.out, "batch_summary.json"));
      expect(summary.counts).toMatchObject({ total: 4, success: 3, failed: 1 });
      expect(summary.by_category).toMatchObject({ CANCELLED: 1 });
    });
  }

  for (const closed of ["stderr", "both"] as const) {
    it(`a usage error exits 2 (${closed} closed)`, async () => {
      expect(await runClosed(["plan", "--no-such-flag"], closed)).toEqual({ code: EXIT.USAGE, signal: null });
      expect(await runClosed(["submit", "--scheduler", "local", "--out", tempDir()], closed)).toEqual({ code: EXIT.USAGE, signal: null });
      expect(await runClosed(["run-one", "--index", "0"], closed)).toEqual({ code: EXIT.USAGE, signal: null });
    });
  }

  it("a usage error exits 2 through `2>&1 | true`", () => {
    expect(runThroughTrue(["plan", "--no-such-flag"])).toBe(EXIT.USAGE);
  });

  for (const closed of ["stdout", "stderr", "both"] as const) {
    it(`a successful plan exits 0 and writes the plan (${closed} closed, with and without --json)`, async () => {
      const s = study({});
      expect(await runClosed(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN], closed)).toEqual({ code: EXIT.OK, signal: null });
      expect(existsSync(path.join(s.out, ".cst-batch", "plan.jsonl"))).toBe(true);
      const out2 = path.join(s.dir, "out2");
      expect(await runClosed(["plan", "--bids-dir", s.bids, "--out", out2, "--csttool", STANDIN, "--json"], closed)).toEqual({ code: EXIT.OK, signal: null });
      expect(existsSync(path.join(out2, ".cst-batch", "plan.jsonl"))).toBe(true);
    });
  }

  it("preflight problems exit 3 with both streams closed (--json too)", async () => {
    const s = study({});
    const missing = path.join(s.dir, "no-csttool");
    expect(await runClosed(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", missing], "both")).toEqual({ code: EXIT.PREFLIGHT, signal: null });
    expect(await runClosed(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", missing, "--json"], "both")).toEqual({ code: EXIT.PREFLIGHT, signal: null });
  });

  it("run-one of a failing subject exits 4, and 0 once done, with closed streams (--json too)", async () => {
    const s = study({ "sub-02": "fail" });
    expect(await runClosed(["plan", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN], "both")).toEqual({ code: EXIT.OK, signal: null });
    const plan = readCurrentPlan(s.out);
    const sub02 = plan.tasks.find((t) => t.key === "sub-02")!.index;
    const planFile = path.join(s.out, ".cst-batch", "plan.jsonl");
    expect(await runClosed(["run-one", "--plan", planFile, "--index", String(sub02)], "stderr", s.env)).toEqual({ code: EXIT.SUBJECT_FAILED, signal: null });
    expect(await runClosed(["run-one", "--plan", planFile, "--index", String(sub02), "--json"], "both", s.env)).toEqual({ code: EXIT.SUBJECT_FAILED, signal: null });
    expect(readdirSync(path.join(s.out, "sub-02", "_failed_attempts"))).toHaveLength(2);
    expect(await runClosed(["run-one", "--plan", planFile, "--index", "0", "--json"], "both", s.env)).toEqual({ code: EXIT.OK, signal: null });
    expect(existsSync(path.join(s.out, plan.tasks[0]!.output_dir, "_done.json"))).toBe(true);
  });

  it("status and collect with a failed subject exit 0 (the README's code for a report that ran), with closed streams", async () => {
    const s = study({ "sub-02": "fail" });
    expect(await runClosed(s.submit(), "both", s.env)).toEqual({ code: EXIT.SUBJECT_FAILED, signal: null });
    for (const closed of ["stdout", "stderr", "both"] as const) {
      for (const json of [[], ["--json"]]) {
        expect(await runClosed(["status", "--out", s.out, "--no-scheduler", ...json], closed)).toEqual({ code: EXIT.OK, signal: null });
        expect(await runClosed(["collect", "--out", s.out, "--no-scheduler", ...json], closed)).toEqual({ code: EXIT.OK, signal: null });
      }
    }
    expect(runThroughTrue(["status", "--out", s.out, "--no-scheduler"])).toBe(EXIT.OK);
    // A damaged output folder is still a usage error (2), not 0, when nobody reads the output.
    expect(await runClosed(["status", "--out", path.join(s.dir, "nowhere")], "both")).toEqual({ code: EXIT.USAGE, signal: null });
  });

  it("resubmit and manifest init keep their codes with closed streams", async () => {
    const s = study({});
    expect(await runClosed(["resubmit", "--out", path.join(s.dir, "nowhere"), "--no-profile"], "both")).toEqual({ code: EXIT.USAGE, signal: null });
    const file = path.join(s.dir, "study.jsonc");
    expect(await runClosed(["manifest", "init", file], "both")).toEqual({ code: EXIT.OK, signal: null });
    expect(existsSync(file)).toBe(true);
    expect(await runClosed(["manifest", "init", file], "both")).toEqual({ code: EXIT.USAGE, signal: null });
    expect(await runClosed(["manifest", "init"], "stdout")).toEqual({ code: EXIT.OK, signal: null });
  });

  it("an invalid manifest exits 2 with closed streams", async () => {
    const s = study({});
    const bad = path.join(s.dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ subjects: [{ id: "sub-01", nifty: "x.nii.gz" }] }));
    expect(await runClosed(["submit", "--scheduler", "local", "--manifest", bad, "--out", s.out, "--csttool", STANDIN], "both")).toEqual({ code: EXIT.USAGE, signal: null });
  });
});
