import { readdirSync, readFileSync, renameSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";
import { commandsIn } from "../helpers/shell-words.js";

/**
 * "Every next step names a command that works for that study": a subject whose input files moved
 * after the plan fails INPUT_MISSING; the next step status prints says to plan again with
 * `cst-batch plan --out X` (no flags: the study's settings are recorded) and rerun. Run exactly as
 * printed, those commands plan the moved files and rerun the subject.
 */
describe("the plan-again next step works as printed", () => {
  it("a subject whose inputs moved after the plan fails INPUT_MISSING; the printed plan and resubmit commands, run as given, rerun it from its new files", () => {
    const dir = tempDir("cst-e2e-next-replan-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const out = path.join(dir, "out");
    const argvLog = path.join(dir, "argv.jsonl");
    const env = { CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const planned = runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--exclude", "sub-01", "--exclude", "sub-03", "--timeout-minutes", "7"], { env });
    expect(planned.code, planned.stderr).toBe(EXIT.OK);
    const plan = readFileSync(path.join(out, ".cst-batch", "plan.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const index = plan.findIndex((l: { key?: string }) => l.key === "sub-02") - 1;
    expect(index).toBeGreaterThanOrEqual(0);

    // the subject's DWI files are renamed (an acquisition label added) after the plan
    const dwi = path.join(bids, "sub-02", "dwi");
    for (const f of readdirSync(dwi)) renameSync(path.join(dwi, f), path.join(dwi, f.replace("sub-02_dwi", "sub-02_acq-b1000_dwi")));
    const failed = runCli(["run-one", "--plan", out, "--index", String(index)], { env });
    expect(failed.code, failed.stderr).toBe(EXIT.SUBJECT_FAILED);

    // the subject's own record says the same, for that subject
    const [attemptDir] = readdirSync(path.join(out, "sub-02", "_failed_attempts"));
    const record = JSON.parse(readFileSync(path.join(out, "sub-02", "_failed_attempts", attemptDir!, "attempt.json"), "utf8"));
    expect(record.category).toBe("INPUT_MISSING");
    expect(commandsIn(record.next_step)).toContainEqual(["plan", "--out", out]);
    expect(commandsIn(record.next_step)).toContainEqual(["resubmit", "--out", out, "--subjects", "sub-02"]);

    const status = runCli(["status", "--out", out], { env });
    const step = status.stdout.split("\n").find((l) => l.includes("next step for INPUT_MISSING"));
    expect(step, status.stdout).toBeDefined();
    expect(step).not.toMatch(/with the flags the plan was made with/);
    const commands = commandsIn(step!);
    const planCmd = commands.find((c) => c[0] === "plan");
    expect(planCmd).toEqual(["plan", "--out", out]);
    const rerunCmd = commands[commands.indexOf(planCmd!) + 1];
    expect(rerunCmd).toEqual(["resubmit", "--out", out]);

    // exactly as printed: the plan finds the renamed files (with the recorded settings), the rerun runs the subject from them
    const replanned = runCli(planCmd!, { env });
    expect(replanned.code, replanned.stderr).toBe(EXIT.OK);
    const settingsKept = readFileSync(path.join(out, ".cst-batch", "plan.jsonl"), "utf8").split("\n")[0]!;
    expect(JSON.parse(settingsKept).run.timeout_minutes).toBe(7);
    const rerun = runCli(rerunCmd!, { env });
    expect(rerun.code, rerun.stderr).toBe(EXIT.OK);
    const calls = standinCalls(argvLog);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.argv.join(" ")).toContain("sub-02_acq-b1000_dwi");
    const after = JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout);
    expect(after.tasks.find((t: { key: string }) => t.key === "sub-02")).toMatchObject({ state: "done" });
  }, 120_000);
});
