import { constants } from "node:fs";
import * as fs from "node:fs";
import os from "node:os";
import { CstError, errnoCode } from "../errors.js";
import { closeQuietly, rmQuietly } from "../util/quiet-fs.js";
import { randomHex } from "../util/random-hex.js";
import { SCHEMA_VERSION, type LockOwner } from "../schemas/records.js";
import { reapRun } from "../processes/procs.js";
import { heldLock, ownerIsDeadHere, parseOwner, writeOwnerFd, type HeldLock, type LockOwnerInput, type LockResult, type ProbeResult } from "./held.js";

/** The fallback lock mode for filesystems without flock: a lease file refreshed while held (see lock.ts). */

export const LEASE_REFRESH_MS = 30_000;
export const LEASE_STALE_MS = 10 * 60_000;

export function leasePath(lockPath: string): string {
  return `${lockPath}.lease`;
}

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

export async function acquireLease(lockPath: string, ownerInput: LockOwnerInput): Promise<LockResult> {
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

export async function probeLease(lockPath: string): Promise<ProbeResult> {
  const state = await readLease(leasePath(lockPath));
  if (state === null) return { kind: "free" };
  return (await leaseIsStale(state)) ? { kind: "free" } : { kind: "held", owner: state.owner };
}
