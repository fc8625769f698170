import { existsSync, readFileSync, renameSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";

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
    const human = runCli(["status", "--out", out], { env });
    expect(human.stdout).toMatch(/1 invalid \(not run/);
    expect(human.stdout).toMatch(/sub-02: .*\.bval file not found/);
    expect(human.stdout).toMatch(/1 excluded by --include\/--exclude/);

    const collected = runCli(["collect", "--out", out], { env });
    expect(collected.code).toBe(EXIT.OK);
    expect(collected.stderr).toMatch(/1 invalid \(not run/);
    const summary = readJson(path.join(out, "batch_summary.json"));
    expect((summary.invalid as Array<{ key: string }>).map((i) => i.key)).toEqual(["sub-02"]);
    expect(summary.excluded).toEqual(["sub-03"]);
    expect(readFileSync(path.join(out, "batch_report.html"), "utf8")).toMatch(/<b>sub-02<\/b>: [^<]*\.bval file not found/);

    // fixed: the next command (settings remembered, --skip-invalid among them) plans and runs it
    renameSync(`${bval}.away`, bval);
    const again = runCli(["submit", "--scheduler", "local", "--out", out], { env });
    expect(again.code, again.stderr).toBe(EXIT.OK);
    expect(standinCalls(argvLog)).toHaveLength(3);
    expect(standinCalls(argvLog)[2]!.argv.join(" ")).toContain("--subject-id 02");
    const after = readJson(path.join(out, "batch_summary.json"));
    expect(after.invalid).toBeUndefined();
    expect(after.counts).toMatchObject({ total: 3, success: 3 });
  });
});
