import { promises as fsp } from "node:fs";
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { acquireLock, leasePath, probeLock, type LockOwnerInput } from "../../../src/lock/lock.js";
import { REPO_ROOT } from "../../helpers/run-plan.js";
import { pidsWithEnv } from "../../helpers/run-procs.js";

const DIST_LOCK = path.join(REPO_ROOT, "dist/lock/lock.js");

function owner(token: string): LockOwnerInput {
  return { pid: process.pid, host: os.hostname(), job_id: "test", since: new Date().toISOString(), token, child_pgid: null };
}

/** A separate process that takes the lock (via the built library), optionally starts a child holding the fd, then waits. */
function startHolder(lockFile: string, withChild: boolean, token: string) {
  const script = `
    import { acquireLock } from ${JSON.stringify(DIST_LOCK)};
    import { spawn } from "node:child_process";
    import os from "node:os";
    const r = await acquireLock(${JSON.stringify(lockFile)}, { pid: process.pid, host: os.hostname(), job_id: null, since: new Date().toISOString(), token: ${JSON.stringify(token)}, child_pgid: null });
    if (r.kind !== "acquired") { console.log("not-acquired"); process.exit(3); }
    if (${withChild}) {
      const c = spawn("sleep", ["300"], { detached: true, stdio: ["ignore", "ignore", "ignore", r.lock.fd], env: { ...process.env, CST_BATCH_RUN_TOKEN: ${JSON.stringify(token)} } });
      await r.lock.updateOwner({ child_pgid: c.pid });
    }
    console.log("held");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => (d.toString().includes("held") ? resolve() : reject(new Error(d.toString()))));
    child.on("exit", (code) => reject(new Error(`holder exited ${code}`)));
  });
  return { child, ready };
}

let dir: string;
beforeAll(async () => {
  await fsp.access(DIST_LOCK).catch(() => {
    throw new Error("dist/ is missing: run `npm run build` first");
  });
});
afterEach(async () => {
  delete process.env.CST_BATCH_LOCK_MODE;
});

async function tmp(): Promise<string> {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "cst-lock-"));
  return dir;
}

describe("flock mode", () => {
  test("a second acquirer is busy and sees the owner; release frees the lock", async () => {
    const lockFile = path.join(await tmp(), "_lock");
    const a = await acquireLock(lockFile, owner("tok-a"));
    expect(a.kind).toBe("acquired");
    const b = await acquireLock(lockFile, owner("tok-b"));
    expect(b.kind).toBe("busy");
    if (b.kind === "busy") expect(b.owner?.token).toBe("tok-a");
    const probe = await probeLock(lockFile);
    expect(probe.kind).toBe("held");
    if (a.kind === "acquired") await a.lock.release();
    expect((await probeLock(lockFile)).kind).toBe("free");
    const c = await acquireLock(lockFile, owner("tok-c"));
    expect(c.kind).toBe("acquired");
    if (c.kind === "acquired") await c.lock.release();
  });

  test("probeLock never creates a missing lock file", async () => {
    const lockFile = path.join(await tmp(), "_lock");
    expect(await probeLock(lockFile)).toEqual({ kind: "free" });
    await expect(fsp.access(lockFile)).rejects.toThrow();
  });

  test("a symlinked lock file is refused", async () => {
    const d = await tmp();
    await fsp.writeFile(path.join(d, "target"), "");
    await fsp.symlink(path.join(d, "target"), path.join(d, "_lock"));
    const r = await acquireLock(path.join(d, "_lock"), owner("t"));
    expect(r.kind).toBe("unsupported");
  });

  test("SIGKILL of the holder frees the lock (the kernel releases it)", async () => {
    const lockFile = path.join(await tmp(), "_lock");
    const h = startHolder(lockFile, false, "tok-holder-1");
    await h.ready;
    expect((await acquireLock(lockFile, owner("x"))).kind).toBe("busy");
    h.child.kill("SIGKILL");
    await new Promise((r) => h.child.once("exit", r));
    const r = await acquireLock(lockFile, owner("y"));
    expect(r.kind).toBe("acquired");
    if (r.kind === "acquired") await r.lock.release();
  });

  test("a child holding the fd keeps the lock after the holder is SIGKILLed; the next acquirer reaps it", async () => {
    const lockFile = path.join(await tmp(), "_lock");
    const token = `tok-orphan-${process.pid}-${Date.now()}`;
    const h = startHolder(lockFile, true, token);
    await h.ready;
    h.child.kill("SIGKILL");
    await new Promise((r) => h.child.once("exit", r));
    // The orphan still holds the open file description: the kernel lock is still held.
    expect((await pidsWithEnv(`CST_BATCH_RUN_TOKEN=${token}`)).length).toBe(1);
    expect((await probeLock(lockFile)).kind).toBe("held");
    const r = await acquireLock(lockFile, owner("next"));
    expect(r.kind).toBe("acquired");
    expect(await pidsWithEnv(`CST_BATCH_RUN_TOKEN=${token}`)).toEqual([]);
    if (r.kind === "acquired") await r.lock.release();
  });

  test("a filesystem without flock is reported as unsupported, naming the path", async () => {
    const d = await tmp();
    const bin = path.join(d, "bin");
    await fsp.mkdir(bin);
    await fsp.writeFile(path.join(bin, "flock"), "#!/bin/sh\necho 'flock: 3: No locks available' >&2\nexit 1\n", { mode: 0o755 });
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      const r = await acquireLock(path.join(d, "_lock"), owner("t"));
      expect(r.kind).toBe("unsupported");
      if (r.kind === "unsupported") {
        expect(r.path).toBe(path.join(d, "_lock"));
        expect(r.reason).toContain(path.join(d, "_lock"));
        expect(r.reason).toContain("CST_BATCH_LOCK_MODE=lease");
        // flock(1)'s own words (captured by a second run: the first does not pipe stderr).
        expect(r.reason).toContain("No locks available");
      }
    } finally {
      process.env.PATH = oldPath;
    }
  });
});

describe("lease mode (CST_BATCH_LOCK_MODE=lease)", () => {
  test("O_EXCL lease: busy while held, removed on release", async () => {
    process.env.CST_BATCH_LOCK_MODE = "lease";
    const lockFile = path.join(await tmp(), "_lock");
    const a = await acquireLock(lockFile, owner("lease-a"));
    expect(a.kind).toBe("acquired");
    await fsp.access(leasePath(lockFile));
    const b = await acquireLock(lockFile, owner("lease-b"));
    expect(b.kind).toBe("busy");
    expect((await probeLock(lockFile)).kind).toBe("held");
    if (a.kind === "acquired") await a.lock.release();
    await expect(fsp.access(leasePath(lockFile))).rejects.toThrow();
    expect((await probeLock(lockFile)).kind).toBe("free");
  });

  test("a lease whose owner on this host is dead is broken; an old lease is stale", async () => {
    process.env.CST_BATCH_LOCK_MODE = "lease";
    const d = await tmp();
    const lockFile = path.join(d, "_lock");
    // A dead owner: a process that has exited.
    const dead = spawn(process.execPath, ["-e", "0"]);
    await new Promise((r) => dead.once("exit", r));
    await fsp.writeFile(
      leasePath(lockFile),
      JSON.stringify({ schema_version: 1, kind: "cst-batch-lock", pid: dead.pid, host: os.hostname(), job_id: null, since: new Date().toISOString(), child_pgid: null, token: "dead" }),
    );
    const r = await acquireLock(lockFile, owner("alive"));
    expect(r.kind).toBe("acquired");
    if (r.kind === "acquired") await r.lock.release();
    // Another host's live-looking lease, 11 minutes old: stale.
    await fsp.writeFile(
      leasePath(lockFile),
      JSON.stringify({ schema_version: 1, kind: "cst-batch-lock", pid: 1, host: "elsewhere", job_id: null, since: new Date().toISOString(), child_pgid: null, token: "old" }),
    );
    expect((await acquireLock(lockFile, owner("x"))).kind).toBe("busy");
    const old = new Date(Date.now() - 11 * 60_000);
    await fsp.utimes(leasePath(lockFile), old, old);
    const s = await acquireLock(lockFile, owner("y"));
    expect(s.kind).toBe("acquired");
    if (s.kind === "acquired") await s.lock.release();
  });
});

