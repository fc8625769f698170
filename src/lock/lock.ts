import { CstError } from "../errors.js";
import { acquireFlock, probeFlock } from "./flock.js";
import type { LockOwnerInput, LockMode, LockResult, ProbeResult } from "./held.js";
import { acquireLease, probeLease } from "./lease.js";

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

export { describeOwner, type HeldLock, type LockMode, type LockOwnerInput, type LockResult, type ProbeResult } from "./held.js";
export { LEASE_REFRESH_MS, LEASE_STALE_MS, leasePath } from "./lease.js";

/** The lock mode chosen by CST_BATCH_LOCK_MODE (flock unless "lease"). */
export function lockMode(env: NodeJS.ProcessEnv = process.env): LockMode {
  const v = (env.CST_BATCH_LOCK_MODE ?? "").trim().toLowerCase();
  if (v === "" || v === "flock") return "flock";
  if (v === "lease") return "lease";
  throw new CstError("USAGE", `CST_BATCH_LOCK_MODE must be "flock" or "lease", got "${v}"`);
}

/**
 * Take the subject's lock without waiting. Busy with a dead owner on this host: the owner's
 * orphaned processes (run token in their environment, or its recorded process group) are
 * SIGKILLed, and the lock is tried again.
 */
export async function acquireLock(lockPath: string, owner: LockOwnerInput): Promise<LockResult> {
  return lockMode() === "lease" ? acquireLease(lockPath, owner) : acquireFlock(lockPath, owner);
}

/**
 * Test whether a subject's lock is held, without creating a missing lock file (missing = free)
 * and without keeping it.
 */
export async function probeLock(lockPath: string): Promise<ProbeResult> {
  return lockMode() === "lease" ? probeLease(lockPath) : probeFlock(lockPath);
}

