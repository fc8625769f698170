import { promises as fsp } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { CLI } from "./run-plan.js";

/** Process helpers for run-one tests: run the CLI, find processes by environment entry. */

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return startCli(args, env).done;
}

/** Live (non-zombie) pids whose environment holds an entry containing `needle`. */
export async function pidsWithEnv(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await fsp.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await fsp.readFile(`/proc/${name}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
      if (state === "Z") continue;
      const env = (await fsp.readFile(`/proc/${name}/environ`)).toString();
      if (env.includes(needle)) found.push(Number(name));
    } catch {
      // gone or not ours
    }
  }
  return found;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` is truthy or the timeout passes. */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("waitFor: timed out");
    await sleep(stepMs);
  }
}
