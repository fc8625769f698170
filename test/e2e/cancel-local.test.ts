import { writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { makeDemoBids, runCli, standinCalls, startCli, STANDIN, tempDir } from "../helpers/cli.js";

/** `cst-batch cancel` on a local run, through the built CLI. */
describe("cst-batch cancel (local run)", () => {
  it("stops a running local study, records its running subjects CANCELLED, leaves done ones, and a second cancel does nothing", async () => {
    const dir = tempDir("cst-cancel-local-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-02": "hang", "sub-03": "hang" }));
    const out = path.join(dir, "out");
    const env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const run = startCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--jobs", "2"], { env });
    // wait until both hanging subjects run (and the quick ones are done)
    let running: string[] = [];
    for (let i = 0; i < 150 && running.join() !== "sub-02,sub-03"; i++) {
      await delay(200);
      const r = runCli(["status", "--out", out, "--json"], { env });
      if (r.code === 0) running = JSON.parse(r.stdout).tasks.filter((t: { state: string }) => t.state === "running").map((t: { key: string }) => t.key).sort();
    }
    expect(running).toEqual(["sub-02", "sub-03"]);

    const c = runCli(["cancel", "--out", out, "--json"], { env });
    expect(c.code, c.stderr).toBe(0);
    const j = JSON.parse(c.stdout);
    expect(j.kind).toBe("cancelled");
    expect(j.targets.map((t: { key: string }) => t.key).sort()).toEqual(["sub-02", "sub-03"]);
    expect(j.targets.every((t: { how: string; state_after: string; category_after: string }) => t.how === "local" && t.state_after === "failed" && t.category_after === "CANCELLED")).toBe(true);
    expect(j.still_in_flight).toEqual([]);
    const r = await run.done;
    expect(r.code).not.toBe(0); // the local run stopped on the signal

    const s = JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout);
    expect(s.totals).toMatchObject({ done: 2, failed: 2, running: 0 });
    expect(s.by_category).toEqual({ CANCELLED: 2 });

    const again = runCli(["cancel", "--out", out, "--json"], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ kind: "nothing-to-cancel", targets: [], commands: [] });
    expect(JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout).totals).toEqual(s.totals);
  }, 90_000);

  it("records the subjects a cancelled local run had not started as CANCELLED, and resubmit --category CANCELLED --scheduler local reruns them", async () => {
    const dir = tempDir("cst-cancel-local-left-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-01_ses-01": "hang" }));
    const out = path.join(dir, "out");
    const argvLog = path.join(dir, "argv.jsonl");
    const env = { CSTTOOL_STANDIN_CONFIG: config, CSTTOOL_STANDIN_ARGV_LOG: argvLog, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    // one worker: sub-01_ses-01 hangs, the three others wait their turn
    const run = startCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--jobs", "1", "--canary", "0"], { env });
    let running: string[] = [];
    // running (its attempt started) and csttool started (the stand-in logged its argv): a run is "running" a moment before csttool starts
    for (let i = 0; i < 150 && (running.join() !== "sub-01_ses-01" || standinCalls(argvLog).length === 0); i++) {
      await delay(200);
      const r = runCli(["status", "--out", out, "--json"], { env });
      if (r.code === 0) running = JSON.parse(r.stdout).tasks.filter((t: { state: string }) => t.state === "running").map((t: { key: string }) => t.key);
    }
    expect(running).toEqual(["sub-01_ses-01"]);

    const c = runCli(["cancel", "--out", out], { env });
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toContain("not started yet, recorded CANCELLED: 3 task(s)");
    expect(c.stderr).toContain(`rerun them later: cst-batch resubmit --out ${out} --category CANCELLED --scheduler local`);
    await run.done;
    expect(standinCalls(argvLog)).toHaveLength(1); // csttool never started for the three

    const s = JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout);
    expect(s.totals).toMatchObject({ failed: 4, "never-submitted": 0, running: 0 });
    expect(s.by_category).toEqual({ CANCELLED: 4 });
    const again = runCli(["cancel", "--out", out, "--json"], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ kind: "nothing-to-cancel", not_started_cancelled: [] });

    writeFileSync(config, "{}");
    const re = runCli(["resubmit", "--out", out, "--category", "CANCELLED", "--scheduler", "local"], { env });
    expect(re.code, re.stderr).toBe(0);
    expect(JSON.parse(runCli(["status", "--out", out, "--json"], { env }).stdout).totals).toMatchObject({ done: 4, failed: 0 });
    expect(standinCalls(argvLog)).toHaveLength(5);
  }, 90_000);

  it("--subjects naming a subject not in the plan is a usage error (exit 2)", () => {
    const dir = tempDir("cst-cancel-usage-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const out = path.join(dir, "out");
    const env = { XDG_CONFIG_HOME: path.join(dir, "xdg") };
    expect(runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN], { env }).code).toBe(0);
    const r = runCli(["cancel", "--out", out, "--subjects", "sub-99"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sub-99/);
  });
});
