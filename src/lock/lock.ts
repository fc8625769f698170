import { spawn } from "node:child_process";
import { constants } from "node:fs";
import * as fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CstError, errnoCode } from "../errors.js";
import { closeQuietly, rmQuietly } from "../util/quiet-fs.js";
import { randomHex } from "../util/random-hex.js";
import { LockOwnerSchema, SCHEMA_VERSION, type LockOwner } from "../schemas/records.js";
import { ownerProcessAlive, reapRun, sleep } from "../processes/procs.js";

/**
 * The per-subject lock.
 *
 * Default mode ("flock"): a kernel flock(2) on `<subject>/_lock`. Node has no flock, so we open
 * the file ourselves and run util-linux `flock -n -E 75 3` with our descriptor as its fd 3. A
 * flock belongs to the open file description, so once `flock` exits the lock stays held by our
 * descriptor until every copy of it is closed; the kernel drops it when the last holder dies,
 * even on SIGKILL. The descriptor is handed to csttool as an extra stdio fd, so the lock lives as
 * long as any process of the run holds it. The owner JSON is written into the lock file itself.
 *
 * Fallback ("lease", env CST_BATCH_LOCK_MODE=lease) for filesystems without flock (some
 * Lustre/NFS mounts): `<subject>/_lock.lease` created with O_EXCL, owner JSON inside, mtime
 * refreshed every 30 s while held. A lease older than 10 minutes, or whose owner on this host is
 * dead, is stale and is broken (renamed away, checked, removed). Weaker than flock: a run-one
 * that is frozen for 10 minutes can lose its lease.
 */

export type LockOwnerInput = Omit<LockOwner, "schema_version" | "kind">;

export interface HeldLock {
  /** The descriptor that holds the lock; pass it to every child that must keep it held. */
  readonly fd: number;
  readonly path: string;
  readonly mode: LockMode;
  readonly owner: LockOwner;
  /** Rewrite the owner JSON (e.g. child_pgid once csttool started). */
  updateOwner(patch: Partial<LockOwnerInput>): Promise<void>;
  /** Release: close our descriptor (flock) or remove the lease. Idempotent. */
  release(): Promise<void>;
}

export type LockResult =
  | { kind: "acquired"; lock: HeldLock }
  | { kind: "busy"; owner: LockOwner | null }
  | { kind: "unsupported"; path: string; reason: string };

export type ProbeResult = { kind: "free" } | { kind: "held"; owner: LockOwner | null } | { kind: "unsupported"; reason: string };

export type LockMode = "flock" | "lease";

export const LEASE_REFRESH_MS = 30_000;
export const LEASE_STALE_MS = 10 * 60_000;
const FLOCK_BUSY = 75;


/** The lock mode chosen by CST_BATCH_LOCK_MODE (flock unless "lease"). */
export function lockMode(env: NodeJS.ProcessEnv = process.env): LockMode {
  const v = (env.CST_BATCH_LOCK_MODE ?? "").trim().toLowerCase();
  if (v === "" || v === "flock") return "flock";
  if (v === "lease") return "lease";
  throw new CstError("USAGE", `CST_BATCH_LOCK_MODE must be "flock" or "lease", got "${v}"`);
}

export function leasePath(lockPath: string): string {
  return `${lockPath}.lease`;
}

/** "pid 123 on node7, job 55_3, since 2026-..." for messages. */
export function describeOwner(owner: LockOwner | null): string {
  if (!owner) return "an unknown process (no owner recorded yet)";
  return `pid ${owner.pid} on ${owner.host}, job ${owner.job_id ?? "none"}, since ${owner.since}`;
}

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
 * Run `flock -n -E 75 3` on our descriptor. Its stderr is not piped (a pipe costs ~2 ms per
 * lock, mostly in the first spawn of a process); only when it fails in an unexpected way is it
 * run again with stderr captured, for the message. LC_ALL=C: flock(1) calls setlocale(), which
 * would otherwise open a dozen locale files per lock.
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

function readFd(fd: number): string {
  const st = fs.fstatSync(fd);
  const size = Math.min(st.size, 64 * 1024);
  const buf = Buffer.alloc(size);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off).toString("utf8");
}

function parseOwner(text: string): LockOwner | null {
  try {
    const parsed = LockOwnerSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * The owner describes live processes: it is read by runs and status on a running machine, where
 * the page cache serves it. After a machine crash it means nothing (its processes are gone), so
 * it is not fsynced: one sync less per subject, which costs most on NFS and Lustre.
 */
function writeOwnerFd(fd: number, owner: LockOwner): void {
  const buf = Buffer.from(JSON.stringify(owner) + "\n", "utf8");
  fs.ftruncateSync(fd, 0);
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off, off);
}

/** The owner JSON in a lock file; null when unreadable or not an owner (yet). */
function readOwnerFd(fd: number): LockOwner | null {
  try {
    return parseOwner(readFd(fd));
  } catch {
    return null;
  }
}

/** A dead owner on this host: its orphans (if any) may be reaped and the lock taken. */
async function ownerIsDeadHere(owner: LockOwner | null): Promise<boolean> {
  if (!owner || owner.host !== os.hostname()) return false;
  return !(await ownerProcessAlive(owner.pid, owner.since));
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

/**
 * Take the subject's lock without waiting. Busy with a dead owner on this host: the owner's
 * orphaned processes (run token in their environment, or its recorded process group) are
 * SIGKILLed, and the lock is tried again.
 */
export async function acquireLock(lockPath: string, owner: LockOwnerInput): Promise<LockResult> {
  return lockMode() === "lease" ? acquireLease(lockPath, owner) : acquireFlock(lockPath, owner);
}

async function acquireFlock(lockPath: string, ownerInput: LockOwnerInput): Promise<LockResult> {
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

/** A held lock of either mode: the owner JSON in the file, and a mode-specific release. */
function heldLock(lockPath: string, fd: number, mode: LockMode, initial: LockOwner, onRelease: (owner: LockOwner) => Promise<void>): HeldLock {
  let owner = initial;
  let released = false;
  return {
    fd,
    path: lockPath,
    mode,
    get owner() {
      return owner;
    },
    async updateOwner(patch) {
      if (released) return;
      owner = { ...owner, ...patch };
      writeOwnerFd(fd, owner);
    },
    async release() {
      if (released) return;
      released = true;
      await onRelease(owner);
    },
  };
}

function makeFlockLock(lockPath: string, fd: number, initial: LockOwner): HeldLock {
  // The owner JSON stays in the file: a later run uses it to reap orphans of this run.
  return heldLock(lockPath, fd, "flock", initial, async () => closeQuietly(fd));
}

/**
 * Test whether a subject's lock is held, without creating a missing lock file (missing = free)
 * and without keeping it.
 */
export async function probeLock(lockPath: string): Promise<ProbeResult> {
  if (lockMode() === "lease") return probeLease(lockPath);
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

// ---------------------------------------------------------------- lease fallback

interface LeaseState {
  owner: LockOwner | null;
  mtimeMs: number;
}

async function readLease(file: string): Promise<LeaseState | null> {
  try {
    const text = fs.readFileSync(file, "utf8");
    const st = fs.lstatSync(file);
    return { owner: parseOwner(text), mtimeMs: st.mtimeMs };
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return null;
    throw e;
  }
}

async function leaseIsStale(state: LeaseState): Promise<boolean> {
  if (Date.now() - state.mtimeMs > LEASE_STALE_MS) return true;
  return ownerIsDeadHere(state.owner);
}

async function acquireLease(lockPath: string, ownerInput: LockOwnerInput): Promise<LockResult> {
  const file = leasePath(lockPath);
  let lastOwner: LockOwner | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") {
        throw new CstError("SYSTEM", `cannot create the lease file ${file}: ${(e as Error).message}`, { cause: e });
      }
      const state = await readLease(file);
      if (state === null) continue; // removed meanwhile
      lastOwner = state.owner;
      if (!(await leaseIsStale(state))) return { kind: "busy", owner: state.owner };
      if (state.owner && state.owner.host === os.hostname()) {
        await reapRun({ pgid: state.owner.child_pgid, token: state.owner.token, since: Date.parse(state.owner.since) }, 15_000);
      }
      await breakLease(file, state);
      continue;
    }
    const owner: LockOwner = { schema_version: SCHEMA_VERSION, kind: "cst-batch-lock", ...ownerInput };
    try {
      writeOwnerFd(fd, owner);
    } catch (e) {
      closeQuietly(fd);
      rmQuietly(file);
      throw new CstError("SYSTEM", `cannot write the lease file ${file}: ${(e as Error).message}`, { cause: e });
    }
    return { kind: "acquired", lock: makeLease(file, fd, owner) };
  }
  return { kind: "busy", owner: lastOwner };
}

/**
 * Break a stale lease: rename it to a private name, check it is still the stale one we judged
 * (same token), then delete it; if a fresh lease was renamed by a race, put it back.
 */
async function breakLease(file: string, judged: LeaseState): Promise<void> {
  const aside = `${file}.broken-${randomHex(4)}`;
  try {
    fs.renameSync(file, aside);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  const taken = await readLease(aside);
  const same = taken !== null && (taken.owner?.token ?? null) === (judged.owner?.token ?? null);
  if (!same) {
    // Not the lease we judged stale: restore it unless someone created another meanwhile.
    try {
      fs.linkSync(aside, file);
    } catch {
      // another lease was created meanwhile: it stays
    }
  }
  rmQuietly(aside);
}

function makeLease(file: string, fd: number, initial: LockOwner): HeldLock {
  const timer = setInterval(() => {
    const now = new Date();
    fs.futimes(fd, now, now, () => {});
  }, LEASE_REFRESH_MS);
  timer.unref();
  return heldLock(file, fd, "lease", initial, async (owner) => {
    clearInterval(timer);
    const current = await readLease(file).catch(() => null);
    if (current?.owner?.token === owner.token) rmQuietly(file);
    closeQuietly(fd);
  });
}

async function probeLease(lockPath: string): Promise<ProbeResult> {
  const state = await readLease(leasePath(lockPath));
  if (state === null) return { kind: "free" };
  return (await leaseIsStale(state)) ? { kind: "free" } : { kind: "held", owner: state.owner };
}
