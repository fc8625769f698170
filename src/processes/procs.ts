import { openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { closeQuietly } from "../util/quiet-fs.js";

/**
 * Process-table helpers over Linux /proc: who belongs to a run (process group, run token in the
 * environment), whether a recorded owner is still alive, and killing what is left. Every
 * function degrades to `null` ("cannot tell") where /proc is absent.
 *
 * /proc is read with blocking calls: its files are generated in memory (docs/architecture.md,
 * "Blocking file calls").
 */

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** One letter: R, S, D, Z (zombie), T, ... */
  state: string;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTicks: number;
}

/** Linux USER_HZ; 100 on every mainstream architecture (Node has no sysconf). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Parse /proc/<pid>/stat; `comm` may hold spaces and parentheses, so split after the last `)`. */
export function parseProcStat(pid: number, text: string): ProcInfo | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const rest = text.slice(close + 2).split(" ");
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgid = Number(rest[2]);
  const startTicks = Number(rest[19]);
  if (!state || !Number.isFinite(ppid) || !Number.isFinite(pgid) || !Number.isFinite(startTicks)) return null;
  return { pid, ppid, pgid, state, startTicks };
}

export async function readProcStat(pid: number): Promise<ProcInfo | null> {
  return readProcStatSync(pid);
}

/** One buffer for every /proc/<pid>/stat read (a few hundred bytes each; ~70-300 per scan). */
const statBuf = Buffer.allocUnsafe(4096);

/**
 * Open /proc/<pid>/stat descriptors kept between scans (local mode scans after every subject):
 * reading one again is one pread instead of open + pread + close. A descriptor belongs to the
 * process it was opened for and fails with ESRCH once that process is gone, so a process that
 * reuses the pid is never read through it (it gets a fresh open). Capped; O_CLOEXEC (Node's
 * default), so csttool does not inherit them.
 */
const statFds = new Map<number, number>();
const MAX_KEPT_STAT_FDS = 128;

function statText(pid: number, fd: number): string {
  const n = readSync(fd, statBuf, 0, statBuf.length, 0);
  // Fields after `comm` are ASCII; latin1 keeps any byte of `comm` one character.
  return n < statBuf.length ? statBuf.toString("latin1", 0, n) : readFileSync(`/proc/${pid}/stat`, "latin1");
}

function readProcStatSync(pid: number): ProcInfo | null {
  const kept = statFds.get(pid);
  if (kept !== undefined) {
    try {
      return parseProcStat(pid, statText(pid, kept));
    } catch {
      // that process is gone (ESRCH); the pid may belong to a new one: open it afresh
      statFds.delete(pid);
      closeQuietly(kept);
    }
  }
  let fd: number | null = null;
  try {
    fd = openSync(`/proc/${pid}/stat`, "r");
    const info = parseProcStat(pid, statText(pid, fd));
    if (statFds.size < MAX_KEPT_STAT_FDS) {
      statFds.set(pid, fd);
      fd = null;
    }
    return info;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeQuietly(fd);
  }
}

/** Close kept descriptors of pids no longer listed in /proc. */
function forgetGonePids(listed: ReadonlySet<number>): void {
  for (const [pid, fd] of statFds) {
    if (!listed.has(pid)) {
      statFds.delete(pid);
      closeQuietly(fd);
    }
  }
}

/** Every process visible in /proc; null when /proc is not mounted. */
export async function listProcesses(): Promise<ProcInfo[] | null> {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return null;
  }
  const pids = names.filter((n) => /^\d+$/.test(n)).map(Number);
  if (pids.length === 0) return null;
  forgetGonePids(new Set(pids));
  const infos: ProcInfo[] = [];
  for (const pid of pids) {
    const info = readProcStatSync(pid);
    if (info !== null) infos.push(info);
  }
  return infos;
}

/** Whether a process's initial environment holds `name=value` (false when unreadable). */
export async function environHas(pid: number, entry: string): Promise<boolean> {
  return environHasSync(pid, entry);
}

function environHasSync(pid: number, entry: string): boolean {
  try {
    const env = readFileSync(`/proc/${pid}/environ`);
    return env.toString("utf8").split("\0").includes(entry);
  } catch {
    return false;
  }
}

export const RUN_TOKEN_ENV = "CST_BATCH_RUN_TOKEN";

/** Which processes make up a run: its process group and/or its token; `since` narrows the token search. */
export interface RunQuery {
  pgid?: number | null;
  token?: string | null;
  /**
   * When the run started (ms since the epoch; e.g. the lock owner's `since`). Every process that
   * carries the token descends from the run's csttool, so it started later; processes that
   * started well before (more than SINCE_MARGIN_MS, for clock granularity) are not read.
   */
  since?: number | null;
}

/** Slack on `RunQuery.since`: /proc start times are whole seconds plus ticks; clocks get adjusted. */
export const SINCE_MARGIN_MS = 60_000;

/**
 * Live (non-zombie) processes of one run: members of process group `pgid`, and any process whose
 * environment carries the run token (catches one that left the group with setsid). A zombie holds
 * no memory and no file descriptors, so it does not count. null when /proc is absent.
 */
export async function findRunProcesses(query: RunQuery): Promise<ProcInfo[] | null> {
  const all = await listProcesses();
  if (all === null) return null;
  const live = all.filter((p) => p.state !== "Z" && p.pid !== process.pid);
  const found: ProcInfo[] = [];
  const entry = query.token ? `${RUN_TOKEN_ENV}=${query.token}` : null;
  const minTicks = entry !== null ? sinceToTicks(query.since) : null;
  for (const p of live) {
    if (query.pgid != null && p.pgid === query.pgid) {
      found.push(p);
    } else if (entry !== null && (minTicks === null || p.startTicks >= minTicks) && environHasSync(p.pid, entry)) {
      found.push(p);
    }
  }
  return found;
}

/** `since` minus the margin, in /proc start-time ticks; null (read every process) when unknown. */
function sinceToTicks(since: number | null | undefined): number | null {
  if (since == null || !Number.isFinite(since)) return null;
  const boot = readBootTimeMs();
  if (boot === null) return null;
  return Math.floor(((since - SINCE_MARGIN_MS - boot) / 1000) * CLOCK_TICKS_PER_SECOND);
}

/** kill(pid, 0): true when the process exists (EPERM means it exists but is not ours). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** kill(-pgid, 0): true while any process (zombies included) is in the group. */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

let bootTimeMs: number | null | undefined;
/**
 * When the machine booted (ms since the epoch): now minus /proc/uptime (not /proc/stat's btime,
 * which the kernel computes from every CPU's interrupt counters: "Start-up budget").
 */
export function readBootTimeMs(): number | null {
  if (bootTimeMs !== undefined) return bootTimeMs;
  try {
    const uptimeS = Number.parseFloat(readFileSync("/proc/uptime", "latin1"));
    bootTimeMs = Number.isFinite(uptimeS) ? Math.round(Date.now() - uptimeS * 1000) : null;
  } catch {
    bootTimeMs = null;
  }
  return bootTimeMs;
}

/** When a process started (ms since the epoch, ~1 s precision), or null if unknown. */
export async function processStartMs(pid: number): Promise<number | null> {
  const info = await readProcStat(pid);
  const boot = readBootTimeMs();
  if (!info || boot === null) return null;
  return boot + (info.startTicks / CLOCK_TICKS_PER_SECOND) * 1000;
}

/**
 * Whether the process that wrote a record at `sinceIso` with pid `pid` is still the one running
 * under that pid: it exists and did not start after the record was written (pid reuse).
 */
export async function ownerProcessAlive(pid: number, sinceIso: string): Promise<boolean> {
  if (!pidExists(pid)) return false;
  const info = await readProcStat(pid);
  if (info?.state === "Z") return false;
  const started = await processStartMs(pid);
  const since = Date.parse(sinceIso);
  if (started === null || !Number.isFinite(since)) return true;
  // The owner wrote `since` after it started; a process that started later is a reused pid.
  return started <= since + 2_000;
}

/** Send a signal, ignoring a process that is already gone. */
export function signalQuietly(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // ESRCH: gone already; EPERM: not ours, nothing we can do.
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * SIGKILL every live process of a run (group and token holders) and wait until none is left or
 * `timeoutMs` passes. Returns the pids still alive (empty = clean).
 */
export async function reapRun(query: RunQuery, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await findRunProcesses(query);
    if (left === null) {
      // No /proc: fall back to the group.
      if (query.pgid == null || !groupExists(query.pgid)) return [];
      signalQuietly(-query.pgid, "SIGKILL");
      if (Date.now() > deadline) return [query.pgid];
    } else {
      if (left.length === 0) return [];
      if (query.pgid != null) signalQuietly(-query.pgid, "SIGKILL");
      for (const p of left) signalQuietly(p.pid, "SIGKILL");
      if (Date.now() > deadline) return left.map((p) => p.pid);
    }
    await sleep(50);
  }
}
