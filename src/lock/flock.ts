import { spawn } from "node:child_process";
import { constants } from "node:fs";
import * as fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CstError, errnoCode } from "../errors.js";
import { closeQuietly } from "../util/quiet-fs.js";
import { SCHEMA_VERSION, type LockOwner } from "../schemas/records.js";
import { reapRun, sleep } from "../processes/procs.js";
import { heldLock, ownerIsDeadHere, readOwnerFd, writeOwnerFd, type HeldLock, type LockOwnerInput, type LockResult, type ProbeResult } from "./held.js";

/** The default lock mode: a kernel flock(2) on `<subject>/_lock`, taken through util-linux flock(1) (see lock.ts). */

/** flock(1)'s exit status for "held by someone else" (`-E`): ours to choose, used only here. */
const FLOCK_BUSY = 75;

function unsupportedReason(lockPath: string, detail: string): string {
  return (
    `cannot take a kernel lock (flock) on ${lockPath}: ${detail}. ` +
    "The filesystem probably does not support flock (some Lustre/NFS mounts); " +
    "mount it with flock support, or set CST_BATCH_LOCK_MODE=lease to use lease files instead"
  );
}

let flockLookup: { searched: string; found: string } | undefined;

/**
 * flock(1)'s absolute path, looked up once per value of PATH (spawn would otherwise try every
 * PATH entry for each lock); "flock" when not found, so spawn reports ENOENT as before.
 */
function flockExecutable(): string {
  const searched = process.env.PATH ?? "";
  if (flockLookup?.searched === searched) return flockLookup.found;
  let found = "flock";
  for (const dir of searched.split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, "flock");
    try {
      fs.accessSync(candidate, constants.X_OK);
      if (fs.statSync(candidate).isFile()) {
        found = candidate;
        break;
      }
    } catch {
      // not here
    }
  }
  flockLookup = { searched, found };
  return found;
}

type FlockAnswer = { kind: "ok" } | { kind: "busy" } | { kind: "error"; detail: string };

/**
 * Run `flock -n -E 75 3` on our descriptor, stderr not piped and LC_ALL=C (both for start-up:
 * docs/architecture.md, "Start-up budget"); only when it fails in an unexpected way is it run
 * again with stderr captured, for the message.
 */
async function runFlock(fd: number): Promise<FlockAnswer> {
  const first = await runFlockOnce(fd, false);
  return first.kind === "error" && "retryForMessage" in first ? runFlockOnce(fd, true) : first;
}

function runFlockOnce(fd: number, captureStderr: boolean): Promise<FlockAnswer | { kind: "error"; detail: string; retryForMessage: true }> {
  return new Promise((resolve) => {
    let stderr = "";
    let child;
    try {
      child = spawn(flockExecutable(), ["-n", "-E", String(FLOCK_BUSY), "3"], {
        stdio: ["ignore", "ignore", captureStderr ? "pipe" : "ignore", fd],
        // All flock(1) needs (it runs no command); copying the whole environment costs more.
        env: process.env.PATH === undefined ? { LC_ALL: "C" } : { PATH: process.env.PATH, LC_ALL: "C" },
      });
    } catch (e) {
      resolve({ kind: "error", detail: `cannot run flock(1): ${(e as Error).message}` });
      return;
    }
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", (e) => {
      const code = errnoCode(e);
      resolve({
        kind: "error",
        detail: code === "ENOENT" ? "util-linux flock(1) is not on PATH" : `cannot run flock(1): ${e.message}`,
      });
    });
    child.on("close", (code, signal) => {
      if (code === 0) resolve({ kind: "ok" });
      else if (code === FLOCK_BUSY) resolve({ kind: "busy" });
      else {
        const detail = `flock(1) exited ${code ?? signal}: ${stderr.trim() || "no message"}`;
        resolve(captureStderr ? { kind: "error", detail } : { kind: "error", detail, retryForMessage: true });
      }
    });
  });
}

/** Open the lock file (creating it unless `create` is false); a symlink is refused. */
function openLockFile(lockPath: string, create: boolean): number | { refused: string } | null {
  const flags = (create ? constants.O_RDWR | constants.O_CREAT : constants.O_RDONLY) | constants.O_NOFOLLOW;
  try {
    return fs.openSync(lockPath, flags, 0o666);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" && !create) return null;
    if (code === "ELOOP") return { refused: `${lockPath} is a symbolic link; refusing to lock through it (remove it)` };
    throw new CstError("SYSTEM", `cannot open the lock file ${lockPath}: ${(e as Error).message}`, {
      cause: e,
      hint: "check that the output folder exists, is writable and is not full",
    });
  }
}

export async function acquireFlock(lockPath: string, ownerInput: LockOwnerInput): Promise<LockResult> {
  const opened = openLockFile(lockPath, true);
  if (opened === null) throw new Error("unreachable: lock file missing after O_CREAT");
  if (typeof opened === "object") return { kind: "unsupported", path: lockPath, reason: opened.refused };
  const fd = opened;
  let lastOwner: LockOwner | null = null;
  try {
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await runFlock(fd);
      if (r.kind === "error") {
        closeQuietly(fd);
        return { kind: "unsupported", path: lockPath, reason: unsupportedReason(lockPath, r.detail) };
      }
      if (r.kind === "ok") {
        const previous = readOwnerFd(fd);
        // We hold the lock, so any process still carrying the previous run's token is an orphan.
        if (previous && previous.host === os.hostname()) await reapRun({ token: previous.token, since: Date.parse(previous.since) }, 15_000);
        const owner: LockOwner = { schema_version: SCHEMA_VERSION, kind: "cst-batch-lock", ...ownerInput };
        writeOwnerFd(fd, owner);
        return { kind: "acquired", lock: makeFlockLock(lockPath, fd, owner) };
      }
      lastOwner = readOwnerFd(fd);
      if (lastOwner === null) {
        // A holder that has not written its owner yet, or a probe: look again shortly.
        if (attempt >= 4) break;
        await sleep(50 * (attempt + 1));
        continue;
      }
      if (!(await ownerIsDeadHere(lastOwner))) break;
      await reapRun({ pgid: lastOwner.child_pgid, token: lastOwner.token, since: Date.parse(lastOwner.since) }, 15_000);
      await sleep(20 * (attempt + 1));
    }
  } catch (e) {
    closeQuietly(fd);
    throw e;
  }
  closeQuietly(fd);
  return { kind: "busy", owner: lastOwner };
}

function makeFlockLock(lockPath: string, fd: number, initial: LockOwner): HeldLock {
  // The owner JSON stays in the file: a later run uses it to reap orphans of this run.
  return heldLock(lockPath, fd, "flock", initial, async () => closeQuietly(fd));
}

/**
 * The flock mode of probeLock: is the lock held? A missing lock file is free and is not
 * created; the lock is never kept.
 */
export async function probeFlock(lockPath: string): Promise<ProbeResult> {
  const opened = openLockFile(lockPath, false);
  if (opened === null) return { kind: "free" };
  if (typeof opened === "object") return { kind: "unsupported", reason: opened.refused };
  const fd = opened;
  try {
    const r = await runFlock(fd);
    if (r.kind === "ok") return { kind: "free" };
    if (r.kind === "busy") return { kind: "held", owner: readOwnerFd(fd) };
    return { kind: "unsupported", reason: unsupportedReason(lockPath, r.detail) };
  } finally {
    closeQuietly(fd);
  }
}

