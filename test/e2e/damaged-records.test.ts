import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, STANDIN, standinCalls, tempDir } from "../helpers/cli.js";

/** "Damage is always named": submit says which state file is damaged and what becomes of it, as status and collect do. */

function setup() {
  const dir = tempDir("cst-damaged-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const out = path.join(dir, "out");
  const argvLog = path.join(dir, "argv.jsonl");
  const config = path.join(dir, "standin.json");
  writeFileSync(config, "{}");
  const env = { XDG_CONFIG_HOME: path.join(dir, "xdg"), CSTTOOL_STANDIN_ARGV_LOG: argvLog, CSTTOOL_STANDIN_CONFIG: config };
  const submitLocal = (extra: string[] = []) =>
    runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--jobs", "2", ...extra], { env });
  return { dir, bids, out, argvLog, config, env, submitLocal };
}

const runsOf = (argvLog: string, label: string): number => standinCalls(argvLog).filter((c) => c.argv.join(" ").includes(`--subject-id ${label}`)).length;

describe("submit names damaged state files (built CLI)", () => {
  it("local mode: a damaged _done.json is named with what happens to it, in human and --json output, moved aside and the subject rerun", () => {
    const s = setup();
    expect(s.submitLocal().code).toBe(EXIT.OK);
    const done = path.join(s.out, "sub-02", "_done.json");

    writeFileSync(done, "{not json");
    const human = s.submitLocal();
    expect(human.code, human.stderr).toBe(EXIT.OK);
    expect(human.stderr).toContain(`damaged state file: ${done}: damaged (`);
    expect(human.stderr).toMatch(/not counted as done: the subject runs again/);
    expect(human.stderr).toMatch(new RegExp(`sub-02: ${done.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} was damaged .*kept as _done\\.json\\.corrupt-`));
    expect(runsOf(s.argvLog, "02")).toBe(2);
    expect(readJson(done).kind).toBe("cst-batch-done");
    expect(readdirSync(path.join(s.out, "sub-02")).filter((n) => n.startsWith("_done.json.corrupt-"))).toHaveLength(1);

    writeFileSync(done, "{not json");
    const json = s.submitLocal(["--json"]);
    expect(json.code, json.stderr).toBe(EXIT.OK);
    const j = JSON.parse(json.stdout);
    expect(j.problems).toHaveLength(1);
    expect(j.problems[0]).toContain(`${done}: damaged (`);
    expect(j.problems[0]).toContain("the subject runs again");
    expect(j.recovered).toEqual([expect.objectContaining({ key: "sub-02", what: "corrupt-done" })]);
    expect(j.results).toEqual([expect.objectContaining({ key: "sub-02", outcome: "success" })]);
    expect(runsOf(s.argvLog, "02")).toBe(3);
    expect(readdirSync(path.join(s.out, "sub-02")).filter((n) => n.startsWith("_done.json.corrupt-"))).toHaveLength(2);
  }, 120_000);

  it("local dry run and batch dry run name a damaged _done.json and a damaged attempt record", () => {
    const s = setup();
    writeFileSync(s.config, JSON.stringify({ "sub-02": "fail" }));
    expect(s.submitLocal().code).toBe(EXIT.SUBJECT_FAILED);
    const done = path.join(s.out, "sub-03", "_done.json");
    writeFileSync(done, "{not json");
    const [attemptDir] = readdirSync(path.join(s.out, "sub-02", "_failed_attempts"));
    const attempt = path.join(s.out, "sub-02", "_failed_attempts", attemptDir!, "attempt.json");
    writeFileSync(attempt, "[]");

    const dry = s.submitLocal(["--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(EXIT.OK);
    const dj = JSON.parse(dry.stdout);
    expect(dj.to_run).toEqual(expect.arrayContaining(["sub-02", "sub-03"]));
    expect(dj.problems.find((p: string) => p.startsWith(`${done}: damaged (`))).toContain("the subject runs again");
    expect(dj.problems.find((p: string) => p.startsWith(`${attempt}: damaged (`))).toContain("this attempt is not counted");
    const dryHuman = s.submitLocal(["--dry-run"]);
    expect(dryHuman.stderr).toContain(`damaged state file: ${done}: damaged (`);
    expect(dryHuman.stderr).toContain(`damaged state file: ${attempt}: damaged (`);

    const bin = path.join(s.dir, "fakebin");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "scontrol"), '#!/bin/sh\necho "MaxArraySize = 1001"\n');
    chmodSync(path.join(bin, "scontrol"), 0o755);
    const batch = runCli(
      ["submit", "--scheduler", "slurm", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check", "--time", "1h", "--dry-run", "--json", "--no-profile"],
      { env: { ...s.env, PATH: `${bin}:${process.env.PATH ?? ""}` } },
    );
    expect(batch.code, batch.stderr).toBe(EXIT.OK);
    const bj = JSON.parse(batch.stdout);
    expect(bj.kind).toBe("dry-run");
    expect(bj.problems.find((p: string) => p.startsWith(`${done}: damaged (`))).toContain("the subject runs again");
    expect(bj.problems.find((p: string) => p.startsWith(`${attempt}: damaged (`))).toContain("this attempt is not counted");
    // the damaged subject is among the tasks submitted (it reruns)
    expect(bj.tasks).toBe(2);
    expect(readFileSync(done, "utf8")).toBe("{not json"); // a dry run moves nothing
  }, 120_000);
});
