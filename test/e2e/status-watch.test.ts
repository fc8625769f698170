import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { CLI, makeDemoBids, runCli, startCli, STANDIN, tempDir } from "../helpers/cli.js";

/**
 * `status --watch` through the built CLI, on a real terminal (a pty from util-linux `script`) and
 * off one: fixed header redrawn in place, a scheduler that cannot be asked shown once as a state,
 * and the watch ending by itself once nothing is queued or running.
 */

/** Run `argv` on a pty of `rows` x `cols`; resolves with everything the terminal received. */
function onPty(argv: string[], env: Record<string, string>, rows = 24, cols = 120): Promise<{ code: number | null; output: string }> {
  const cmd = `stty rows ${rows} cols ${cols}; exec ${argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ")}`;
  const child = spawn("script", ["-qfec", cmd, "/dev/null"], { env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

describe("status --watch", () => {
  it("on a terminal: one fixed header redrawn in place, and it exits by itself when the local run ends", async () => {
    const dir = tempDir("cst-watch-pty-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const config = path.join(dir, "behaviours.json");
    writeFileSync(config, JSON.stringify({ "sub-02": "sleep:8" }));
    const out = path.join(dir, "out");
    const env = { CSTTOOL_STANDIN_CONFIG: config, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const run = startCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--jobs", "2"], { env });
    // wait until sub-02 is seen running
    let running = false;
    for (let i = 0; i < 100 && !running; i++) {
      await delay(200);
      const r = runCli(["status", "--out", out, "--json"], { env });
      if (r.code === 0) running = JSON.parse(r.stdout).totals.running > 0;
    }
    expect(running).toBe(true);
    const started = Date.now();
    const w = await onPty([process.execPath, CLI, "status", "--out", out, "--watch", "--interval", "2"], env, 24, 120);
    expect(w.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(40_000);
    expect((await run.done).code).toBe(0);
    // drawn once from a cleared screen, then redrawn from the top (never scrolled as plain blocks)
    expect(w.output.split("\u001b[2J").length - 1).toBe(1);
    expect(w.output.split("\u001b[H").length - 1).toBeGreaterThanOrEqual(2);
    expect(w.output).not.toContain("--- cst-batch status");
    const frames = w.output.split("\u001b[H").slice(1);
    for (const f of frames) expect(f.replace(/^\u001b\[2J/, "")).toMatch(/^cst-batch status --out \S+ · every 2 s · /);
    expect(frames.at(-1)).toMatch(/nothing queued or running: done watching/);
    expect(frames.at(-1)).toMatch(/4 task\(s\): 4 done/);
  }, 90_000);

  it("off a terminal, a scheduler that cannot be asked is one state line, printed once while nothing changes", async () => {
    const dir = tempDir("cst-watch-sched-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    for (const tool of ["node", "sh", "bash", "env", "flock"]) {
      for (const d of ["/usr/local/bin", "/usr/bin", "/bin"]) {
        if (!existsSync(path.join(d, tool))) continue;
        writeFileSync(path.join(bin, tool), `#!/bin/sh\nexec ${path.join(d, tool)} "$@"\n`);
        chmodSync(path.join(bin, tool), 0o755);
        break;
      }
    }
    // sbatch accepts; sacct and squeue fail the way an unreachable controller does
    const fake = `#!/bin/sh\ncase "\${0##*/}" in\n  sbatch) [ "$1" = "--version" ] && { echo "slurm 22.05.8"; exit 0; }; echo 4242 ;;\n  scontrol) echo "MaxArraySize = 1001" ;;\n  *) echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1 ;;\nesac\n`;
    for (const name of ["sbatch", "scontrol", "sacct", "squeue"]) {
      writeFileSync(path.join(bin, name), fake);
      chmodSync(path.join(bin, name), 0o755);
    }
    const out = path.join(dir, "out");
    const env = { PATH: bin, XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const sub = runCli(["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--time", "1h", "--mem", "2G"], { env });
    expect(sub.code, sub.stderr).toBe(0);
    const w = startCli(["status", "--out", out, "--watch", "--interval", "2"], { env });
    await delay(7_000); // three refreshes or more
    w.child.kill("SIGINT");
    const r = await w.done;
    expect(r.code, r.stderr).toBe(0);
    expect((r.stdout.match(/^--- cst-batch status --out/gm) ?? []).length).toBe(1);
    expect((r.stdout.match(/^scheduler slurm: could not be asked/gm) ?? []).length).toBe(1);
    expect(r.stdout).toMatch(/4 pending-in-queue/);
  }, 60_000);
});
