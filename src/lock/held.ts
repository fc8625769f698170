import * as fs from "node:fs";
import os from "node:os";
import { LockOwnerSchema, type LockOwner } from "../schemas/records.js";
import { ownerProcessAlive } from "../processes/procs.js";

/** What both lock modes share: the owner record inside the lock file and the held lock's handle. */

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

/** "pid 123 on node7, job 55_3, since 2026-..." for messages. */
export function describeOwner(owner: LockOwner | null): string {
  if (!owner) return "an unknown process (no owner recorded yet)";
  return `pid ${owner.pid} on ${owner.host}, job ${owner.job_id ?? "none"}, since ${owner.since}`;
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

export function parseOwner(text: string): LockOwner | null {
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
export function writeOwnerFd(fd: number, owner: LockOwner): void {
  const buf = Buffer.from(JSON.stringify(owner) + "\n", "utf8");
  fs.ftruncateSync(fd, 0);
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off, off);
}

/** The owner JSON in a lock file; null when unreadable or not an owner (yet). */
export function readOwnerFd(fd: number): LockOwner | null {
  try {
    return parseOwner(readFd(fd));
  } catch {
    return null;
  }
}

/** A dead owner on this host: its orphans (if any) may be reaped and the lock taken. */
export async function ownerIsDeadHere(owner: LockOwner | null): Promise<boolean> {
  if (!owner || owner.host !== os.hostname()) return false;
  return !(await ownerProcessAlive(owner.pid, owner.since));
}

/** A held lock of either mode: the owner JSON in the file, and a mode-specific release. */
export function heldLock(lockPath: string, fd: number, mode: LockMode, initial: LockOwner, onRelease: (owner: LockOwner) => Promise<void>): HeldLock {
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

