import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";

/** A lock owner record as run-one writes it into `_lock`. */
export const LOCK_OWNER = {
  schema_version: 1,
  kind: "cst-batch-lock",
  pid: 31337,
  host: "node09",
  job_id: "555_2",
  since: "2026-01-03T11:00:00.000Z",
  child_pgid: null,
  token: "tok",
} as const;

/**
 * Processes holding subject locks: `flock FILE sh -c 'echo ready; exec sleep 30'` (util-linux),
 * started in their own process group so `stopAll` can kill flock and its sleep together.
 */
export class LockHolders {
  private readonly children: ChildProcess[] = [];

  /** Hold `file`'s flock until `stopAll`; writes `owner` into the file first when given. */
  async hold(file: string, owner?: object): Promise<void> {
    if (owner) writeFileSync(file, JSON.stringify(owner));
    const child = spawn("flock", [file, "sh", "-c", "echo ready; exec sleep 30"], {
      stdio: ["ignore", "pipe", "inherit"],
      detached: true,
    });
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code) => reject(new Error(`flock exited early (${code})`)));
      child.stdout?.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve();
      });
    });
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.children.splice(0).map(stop));
  }
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || !c.pid) return;
  const gone = new Promise<void>((resolve) => c.once("exit", () => resolve()));
  process.kill(-c.pid, "SIGKILL");
  await gone;
}
