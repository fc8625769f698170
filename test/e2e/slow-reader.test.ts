import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, REPO, runCli, STANDIN, tempDir } from "../helpers/cli.js";
import { makeBidsDataset } from "../helpers/plan-bids-maker.js";

/** Run `argv` with its stdout piped to a reader that reads nothing for `pauseSeconds`, then everything (as `| less` would). */
async function readSlowly(argv: string[], pauseSeconds: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const quoted = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("bash", ["-c", `set -o pipefail; ${quoted} | { sleep ${pauseSeconds}; cat; }`], { cwd: REPO, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, stderr };
}

describe("large output to a slow reader (`| less`, `| jq`)", () => {
  it("the writer waits for the reader instead of queueing the output in memory", async () => {
    // 8 MB in 64 KB pieces through writeData; the reader starts after 1.5 s
    const script = `
      const { writeData } = await import(${JSON.stringify(path.join(REPO, "dist", "cli", "output.js"))});
      let most = 0;
      const piece = "x".repeat(65535) + "\\n";
      for (let i = 0; i < 128; i++) { await writeData(piece); most = Math.max(most, process.stdout.writableLength); }
      process.stderr.write("most queued " + most + "\\n");`;
    const r = await readSlowly([process.execPath, "--input-type=module", "-e", script], 1.5);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBe(128 * 65536);
    const most = Number(/most queued (\d+)/.exec(r.stderr)?.[1]);
    // one piece may wait in Node's queue while the pipe is full, never the whole output
    expect(most).toBeLessThanOrEqual(2 * 65536);
  }, 60_000);

  it("status --json read slowly still prints one whole JSON document with every task", async () => {
    const dir = tempDir("cst-slow-reader-");
    const ids = Array.from({ length: 400 }, (_, i) => ({ id: `sub-${String(i).padStart(3, "0")}` }));
    const bids = await makeBidsDataset(path.join(dir, "bids"), ids);
    const out = path.join(dir, "out");
    const p = runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check"]);
    expect(p.code, p.stderr).toBe(0);
    const r = await readSlowly([process.execPath, CLI, "status", "--out", out, "--no-scheduler", "--json"], 1.5);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { tasks: { key: string; state: string }[]; totals: Record<string, number> };
    expect(doc.tasks).toHaveLength(400);
    expect(doc.totals["never-submitted"]).toBe(400);
  }, 120_000);
});
