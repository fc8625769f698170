import { existsSync, readFileSync, renameSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, parseCsv, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";
import { commandsIn } from "../helpers/shell-words.js";

/** "Bad subjects do not hold the rest hostage": --skip-invalid plans the others and lists the bad ones everywhere. */
describe("one bad subject does not hold the rest hostage", () => {
  it("--skip-invalid runs the valid subjects, lists the invalid and excluded ones in status, collect and the report, and picks a fixed one up later", () => {
    const dir = tempDir("cst-e2e-invalid-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const out = path.join(dir, "out");
    const argvLog = path.join(dir, "argv.jsonl");
    const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const bval = path.join(bids, "sub-02", "dwi", "sub-02_dwi.bval");
    renameSync(bval, `${bval}.away`);

    // without the flag: every problem, exit 3, no plan, and the message names the flag
    const refused = runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--exclude", "sub-03"], { env });
    expect(refused.code).toBe(EXIT.PREFLIGHT);
    expect(refused.stderr).toMatch(/sub-02: \.bval file not found/);
    expect(refused.stderr).toMatch(/--skip-invalid/);
    expect(existsSync(path.join(out, ".cst-batch", "plan.jsonl"))).toBe(false);

    const ran = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--exclude", "sub-03", "--skip-invalid"], { env });
    expect(ran.code, ran.stderr).toBe(EXIT.OK);
    expect(ran.stderr).toMatch(/invalid: 1 \(sub-02\)/);
    expect(standinCalls(argvLog)).toHaveLength(2); // sub-01's two sessions

    const status = JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout);
    expect(status.invalid).toHaveLength(1);
    expect(status.invalid[0]).toMatchObject({ key: "sub-02", subject: "sub-02", session: null });
    expect(status.invalid[0].problems[0].message).toMatch(/\.bval file not found/);
    expect(status.excluded).toEqual(["sub-03"]);
    // a task row in state "invalid" with its problems, counted in the totals; excluded counted as excluded
    const invalidRow = status.tasks.find((t: { key: string }) => t.key === "sub-02");
    expect(invalidRow).toMatchObject({ key: "sub-02", subject: "sub-02", session: null, state: "invalid", index: null, attempts: 0 });
    expect(invalidRow.problems[0].message).toMatch(/\.bval file not found/);
    expect(invalidRow.reason).toMatch(/\.bval file not found.*fix:/);
    expect(status.tasks.map((t: { key: string }) => t.key)).toEqual(["sub-01_ses-01", "sub-01_ses-02", "sub-02"]);
    expect(status.totals).toMatchObject({ total: 3, done: 2, invalid: 1, excluded: 1 });
    expect(status.what_now.find((w: { kind: string }) => w.kind === "invalid")).toMatchObject({ count: 1 });
    const failedOnly = JSON.parse(runCli(["status", "--out", out, "--failed", "--json"], { env }).stdout);
    expect(failedOnly.tasks.map((t: { key: string; state: string }) => `${t.key} ${t.state}`)).toEqual(["sub-02 invalid"]);
    const human = runCli(["status", "--out", out, "--all"], { env });
    expect(human.stdout).toMatch(/^sub-02\s+invalid\s.*\.bval file not found/m);
    expect(human.stdout).toMatch(/3 task\(s\): 2 done, 1 invalid/);
    expect(human.stdout).toMatch(/1 invalid \(not run/);
    expect(human.stdout).toMatch(/sub-02: .*\.bval file not found/);
    expect(human.stdout).toMatch(/1 excluded by --include\/--exclude/);
    // what now: fix them, re-plan with the recorded settings (no flags to repeat), run them
    const invalidStep = human.stdout.split("\n").find((l) => /^\s+1 invalid \(not run;/.test(l));
    expect(invalidStep, human.stdout).toBeDefined();
    const [planCmd, runCmd] = commandsIn(invalidStep!).filter((c) => c[0] !== "status");
    expect(planCmd).toEqual(["plan", "--out", out]);
    expect(runCmd).toEqual(["resubmit", "--out", out]);
    // resubmit does not pick an invalid subject, and says why
    const notIt = runCli(["resubmit", "--out", out, "--subjects", "sub-02", "--json"], { env });
    const notItJson = JSON.parse(notIt.stdout);
    expect(notItJson).toMatchObject({ kind: "nothing-to-do", rerun: [], skipped: [{ key: "sub-02", state: "invalid" }] });
    expect(notItJson.skipped[0].why).toMatch(/\.bval file not found.*plan the study again/);
    expect(standinCalls(argvLog)).toHaveLength(2);

    const collected = runCli(["collect", "--out", out], { env });
    expect(collected.code).toBe(EXIT.OK);
    expect(collected.stderr).toMatch(/1 invalid \(not run/);
    const summary = readJson(path.join(out, "batch_summary.json"));
    expect((summary.invalid as Array<{ key: string }>).map((i) => i.key)).toEqual(["sub-02"]);
    expect(summary.excluded).toEqual(["sub-03"]);
    expect(summary.counts).toMatchObject({ total: 3, success: 2, invalid: 1, excluded: 1 });
    expect(collected.stderr).toMatch(/3 task\(s\): 2 succeeded, .*1 invalid \(1 excluded\)/);
    const csv = parseCsv(readFileSync(path.join(out, "batch_metrics.csv"), "utf8"));
    const col = (name: string): number => csv[0]!.indexOf(name);
    const invalidCsv = csv.filter((r) => r[col("subject_id")] === "sub-02");
    expect(invalidCsv).toHaveLength(1);
    expect(invalidCsv[0]![col("status")]).toBe("invalid");
    expect(invalidCsv[0]![col("error")]).toMatch(/\.bval file not found: \S+sub-02_dwi\.bval; fix: create it/);
    expect(csv.slice(1).map((r) => r[col("status")])).toEqual(["success", "success", "invalid"]);
    expect(readFileSync(path.join(out, "batch_report.html"), "utf8")).toMatch(/<b>sub-02<\/b>: [^<]*\.bval file not found/);

    // fixed: the next command (settings remembered, --skip-invalid among them) plans and runs it
    // fixed: the commands status named, exactly as printed (settings remembered, --skip-invalid among them)
    renameSync(`${bval}.away`, bval);
    const replanned = runCli(planCmd!, { env });
    expect(replanned.code, replanned.stderr).toBe(EXIT.OK);
    const again = runCli(runCmd!, { env });
    expect(again.code, again.stderr).toBe(EXIT.OK);
    expect(standinCalls(argvLog)).toHaveLength(3);
    expect(standinCalls(argvLog)[2]!.argv.join(" ")).toContain("--subject-id 02");
    const after = readJson(path.join(out, "batch_summary.json"));
    expect(after.invalid).toBeUndefined();
    expect(after.counts).toMatchObject({ total: 3, success: 3 });
  });
});
