// node:child_process rather than execa: run-one starts once per subject on a compute node, and
// this module is on its start-up path; the built-in keeps it light and gives us the raw pieces
// (detached group, extra stdio fd for the lock, line-level teeing) without another layer.
import { spawn, type ChildProcess } from "node:child_process";
import type { FailureCategory } from "../schemas/records.js";
import { findRunProcesses, groupExists, RUN_TOKEN_ENV, signalQuietly, sleep } from "../processes/procs.js";
import { findJobCgroupPeak, readPeakKb } from "../processes/cgroup-peak.js";
import { parsePeakReport, peakWrapper } from "../processes/peak-wrapper.js";
import { sampleRssKb } from "../processes/rss.js";
import { LogTee } from "./log-tee.js";

export { LOG_TAIL_LINES } from "./log-tee.js";

/**
 * Run one csttool invocation under supervision: its own process group, output teed line by line
 * into the subject's log, a timeout with SIGTERM -> grace -> SIGKILL to the whole group, and a
 * sweep after the direct child exits so that no process of the run outlives this call.
 */

export interface SuperviseOptions {
  /** argv[0] is the executable; never passed through a shell. */
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** Put into the child's environment as CST_BATCH_RUN_TOKEN; identifies the run's processes. */
  token: string;
  logFile: string;
  /** The output folder holding the log: no link below it is followed. */
  logRoot: string;
  /** Written at the top of the (truncated) log file. */
  logHeader: string;
  cwd?: string;
  /** null: no timeout. */
  timeoutMs: number | null;
  /** Between SIGTERM and SIGKILL after a timeout or for leftovers after the child exits. */
  graceMs: number;
  /** Between SIGTERM and SIGKILL after an abort (defaults to graceMs). */
  abortGraceMs?: number;
  /** Abort reason "CANCELLED" / "TIMEOUT" (or `{category}`) names the category. */
  signal?: AbortSignal;
  /** Descriptors handed to the child as fd 3, 4, ... (the lock). */
  extraFds?: number[];
  /** Called once the child runs (its pid is its process group id). */
  onSpawn?: (pgid: number) => void;
  /** Called synchronously when stopping starts, before any signal is sent. */
  onStop?: (reason: "timeout" | "aborted", category: FailureCategory) => void;
}

export interface SuperviseResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  reason: "exited" | "timeout" | "aborted" | "spawn-failed";
  category?: FailureCategory;
  durationMs: number;
  /** Peak resident memory of the run's processes, or null; `maxRssSource` says where it came from. */
  maxRssKb: number | null;
  /**
   * cgroup: the job's own cgroup peak rose during this run (memory.peak / memory.max_usage_in_bytes);
   * rusage: the reaped children's ru_maxrss (see peak-wrapper.ts); sampled: /proc samples (VmHWM
   * per process, VmRSS summed). The largest of those available is reported.
   */
  maxRssSource: MaxRssSource | null;
  /** Last lines of output (both streams, in arrival order). */
  logTail: string[];
  pgid: number | null;
  /** Set when the executable could not be started (ENOENT, EACCES, ...). */
  spawnError?: { code: string; message: string };
  /** Set when the log file could not be written (output is still in logTail). */
  logError?: string;
  /** Pids that could not be killed (should be empty). */
  survivors: number[];
}

/**
 * /proc samples every 2 s. Without the peak reaper (no python3) the first 10 s are sampled every
 * 250 ms, to catch short peaks that only sampling can see then; with it, rusage covers them.
 */
const RSS_SAMPLE_FAST_MS = 250;
const RSS_SAMPLE_MS = 2_000;
const RSS_FAST_PHASE_MS = 10_000;

/** Category carried by an AbortSignal's reason. */
export function abortCategory(signal: AbortSignal | undefined): FailureCategory {
  const r: unknown = signal?.reason;
  if (r === "TIMEOUT" || r === "CANCELLED") return r;
  if (typeof r === "object" && r !== null && "category" in r) {
    const c = (r as { category: unknown }).category;
    if (c === "TIMEOUT" || c === "CANCELLED") return c;
  }
  return "CANCELLED";
}

/**
 * Line-oriented log writer that never throws; remembers the last lines. Writes are blocking
 * (one write(2) per chunk of csttool output, on a local or cluster filesystem): cheaper than a
 * thread-pool round trip, and the log is complete the moment csttool's exit is seen.
 */
/** The run's token and when it started (its processes started later; see RunQuery.since). */
interface RunId {
  token: string;
  since: number;
}

/** Live pids of the run (group + token holders); null when /proc is absent. */
async function runMembers(pgid: number, run: RunId): Promise<number[] | null> {
  const found = await findRunProcesses({ pgid, token: run.token, since: run.since });
  return found === null ? null : found.map((p) => p.pid);
}

/** Signal the group and every token holder outside it. */
async function signalRun(pgid: number, run: RunId, sig: NodeJS.Signals): Promise<void> {
  signalQuietly(-pgid, sig);
  const members = await runMembers(pgid, run);
  for (const pid of members ?? []) signalQuietly(pid, sig);
}

/** Wait until no live process of the run is left or the deadline passes; true when none left. */
async function waitGone(pgid: number, run: RunId, deadline: number): Promise<boolean> {
  for (;;) {
    const members = await runMembers(pgid, run);
    const alive = members === null ? groupExists(pgid) : members.length > 0;
    if (!alive) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(100, Math.max(10, deadline - Date.now())));
  }
}

export async function supervise(opts: SuperviseOptions): Promise<SuperviseResult> {
  const started = Date.now();
  const tee = new LogTee(opts.logRoot, opts.logFile, opts.logHeader);
  const abortGraceMs = opts.abortGraceMs ?? opts.graceMs;
  const [file, ...args] = opts.argv;
  if (file === undefined) throw new Error("supervise: empty argv");

  const finish = async (partial: Omit<SuperviseResult, "durationMs" | "logTail" | "logError">): Promise<SuperviseResult> => {
    await tee.close();
    const result: SuperviseResult = { ...partial, durationMs: Date.now() - started, logTail: [...tee.tail] };
    if (tee.logError) result.logError = tee.logError;
    return result;
  };

  const spawnFailed = (err: NodeJS.ErrnoException): Promise<SuperviseResult> => {
    tee.note(`cannot start ${file}: ${err.message}`);
    const spawnError = { code: err.code ?? "UNKNOWN", message: err.message };
    return finish({ exitCode: null, signal: null, reason: "spawn-failed", maxRssKb: null, maxRssSource: null, pgid: null, spawnError, survivors: [] });
  };

  if (opts.signal?.aborted) {
    const category = abortCategory(opts.signal);
    opts.onStop?.("aborted", category);
    tee.note(`not started: stop requested (${category})`);
    return finish({ exitCode: null, signal: null, reason: "aborted", category, maxRssKb: null, maxRssSource: null, pgid: null, survivors: [] });
  }

  // Memory: the job cgroup's peak before the run, and csttool under the reaper that reports the
  // children's ru_maxrss at exit (src/processes/peak-wrapper.ts).
  const cgroup = findJobCgroupPeak(opts.env);
  const cgroupBefore = cgroup ? readPeakKb(cgroup) : null;
  const extraFds = opts.extraFds ?? [];
  const wrapper = peakWrapper(opts.argv, 3 + extraFds.length, opts.env, opts.cwd);
  let child: ChildProcess;
  try {
    child = spawn(wrapper ? wrapper.argv[0]! : file, wrapper ? wrapper.argv.slice(1) : args, {
      cwd: opts.cwd,
      env: { ...opts.env, [RUN_TOKEN_ENV]: opts.token },
      detached: true,
      stdio: ["ignore", "pipe", "pipe", ...extraFds, ...(wrapper ? ["pipe" as const] : [])],
    });
  } catch (e) {
    return spawnFailed(e as NodeJS.ErrnoException);
  }

  const spawned = await new Promise<{ ok: true } | { ok: false; error: NodeJS.ErrnoException }>((resolve) => {
    child.once("spawn", () => resolve({ ok: true }));
    child.once("error", (error: NodeJS.ErrnoException) => resolve({ ok: false, error }));
  });
  if (!spawned.ok || child.pid === undefined) {
    return spawnFailed(spawned.ok ? Object.assign(new Error("no pid"), { code: "UNKNOWN" }) : spawned.error);
  }
  const pgid = child.pid;
  const runId: RunId = { token: opts.token, since: started };
  opts.onSpawn?.(pgid);

  child.stdout?.on("data", (d: Buffer) => tee.chunk("out", d));
  child.stderr?.on("data", (d: Buffer) => tee.chunk("err", d));
  let peakReport = "";
  const reportPipe = wrapper ? child.stdio[wrapper.fd] : null;
  reportPipe?.on("data", (d: Buffer) => (peakReport += d.toString("utf8")));
  reportPipe?.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });

  let maxRssKb: number | null = null;
  let sampling = false;
  const sample = (): void => {
    if (sampling) return;
    sampling = true;
    void sampleRssKb(pgid, wrapper ? pgid : null)
      .then((kb) => {
        if (kb !== null) maxRssKb = Math.max(maxRssKb ?? 0, kb);
      })
      .finally(() => (sampling = false));
  };
  const firstSample = setTimeout(sample, 100);
  let rssTimer = setInterval(sample, wrapper ? RSS_SAMPLE_MS : RSS_SAMPLE_FAST_MS);
  const slowDown = setTimeout(() => {
    clearInterval(rssTimer);
    rssTimer = setInterval(sample, RSS_SAMPLE_MS);
  }, RSS_FAST_PHASE_MS);

  let stopping: { reason: "timeout" | "aborted"; category: FailureCategory; killAt: number } | null = null;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (reason: "timeout" | "aborted", category: FailureCategory): void => {
    if (stopping) return;
    const grace = reason === "timeout" ? opts.graceMs : abortGraceMs;
    stopping = { reason, category, killAt: Date.now() + grace };
    try {
      opts.onStop?.(reason, category);
    } catch {
      // recording the pending category is best effort; stopping the run is not
    }
    tee.note(`${reason === "timeout" ? "time limit reached" : "stop requested"} (${category}): SIGTERM to process group ${pgid}, SIGKILL after ${grace / 1000} s`);
    void signalRun(pgid, runId, "SIGTERM");
    killTimer = setTimeout(() => {
      tee.note(`grace period over: SIGKILL to process group ${pgid}`);
      void signalRun(pgid, runId, "SIGKILL");
    }, grace);
  };

  const timeoutTimer = opts.timeoutMs !== null ? setTimeout(() => stop("timeout", "TIMEOUT"), opts.timeoutMs) : undefined;
  const onAbort = (): void => stop("aborted", abortCategory(opts.signal));
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  // Aborted while the child was being started (before its "spawn" event): stop it now.
  if (opts.signal?.aborted) onAbort();

  const exit = await exited;
  if (timeoutTimer) clearTimeout(timeoutTimer);
  opts.signal?.removeEventListener("abort", onAbort);

  // The direct child is gone; anything left of its group (or carrying its token) must go too.
  const deadline = stopping ? (stopping as { killAt: number }).killAt : Date.now() + opts.graceMs;
  let survivors: number[] = [];
  const leftovers = await runMembers(pgid, runId);
  const anyLeft = leftovers === null ? groupExists(pgid) && !(await waitGone(pgid, runId, Date.now() + 200)) : leftovers.length > 0;
  if (anyLeft) {
    tee.note(`csttool exited; processes of its group remain (${(leftovers ?? []).join(", ") || "?"}): SIGTERM, then SIGKILL`);
    await signalRun(pgid, runId, "SIGTERM");
    if (!(await waitGone(pgid, runId, deadline))) {
      await signalRun(pgid, runId, "SIGKILL");
      const hardDeadline = Date.now() + 10_000;
      for (;;) {
        if (await waitGone(pgid, runId, Math.min(hardDeadline, Date.now() + 500))) break;
        if (Date.now() >= hardDeadline) {
          survivors = (await runMembers(pgid, runId)) ?? [pgid];
          tee.note(`processes survived SIGKILL: ${survivors.join(", ")}`);
          break;
        }
        await signalRun(pgid, runId, "SIGKILL");
      }
    }
  }
  if (killTimer) clearTimeout(killTimer);
  clearTimeout(firstSample);
  clearTimeout(slowDown);
  clearInterval(rssTimer);

  // Every writer of the pipes is gone now; wait for the last bytes (bounded, in case a process
  // outside the group inherited a pipe).
  let pipeTimer: NodeJS.Timeout | undefined;
  await Promise.race([closed, new Promise<void>((resolve) => (pipeTimer = setTimeout(resolve, 5_000)))]);
  clearTimeout(pipeTimer);
  child.stdout?.destroy();
  child.stderr?.destroy();
  reportPipe?.destroy();

  const report = parsePeakReport(peakReport);
  if (report.kind === "exec-error") {
    // The reaper started but csttool could not be executed: the same outcome as a failed spawn.
    tee.note(`cannot start ${file}: ${report.message}`);
    return finish({ exitCode: null, signal: null, reason: "spawn-failed", maxRssKb: null, maxRssSource: null, pgid, spawnError: { code: report.code, message: `${report.code}: ${report.message}` }, survivors });
  }
  const cgroupAfter = cgroup ? readPeakKb(cgroup) : null;
  const peak = pickPeak([
    ["cgroup", cgroupAfter !== null && (cgroupBefore === null || cgroupAfter > cgroupBefore) ? cgroupAfter : null],
    ["rusage", report.kind === "rusage" ? report.maxRssKb : null],
    ["sampled", maxRssKb],
  ]);

  // In a job's cgroup, every figure goes into the log: the recorded one is the largest, and the
  // others show what each source saw (the cgroup does not charge file pages cached before the job).
  if (cgroup) {
    const rusageKb = report.kind === "rusage" ? report.maxRssKb : null;
    tee.note(`peak memory (KiB): cgroup ${cgroupAfter ?? "?"} (${cgroup.file}, ${cgroupBefore ?? "?"} before csttool), rusage ${rusageKb ?? "-"}, sampled ${maxRssKb ?? "-"}; recorded ${peak.source ?? "none"}`);
  }
  const how = exit.signal ? `killed by ${exit.signal}` : `exited with status ${exit.code}`;
  tee.note(`csttool ${how} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const s = stopping as { reason: "timeout" | "aborted"; category: FailureCategory } | null;
  return finish({
    exitCode: exit.code,
    signal: exit.signal,
    reason: s ? s.reason : "exited",
    ...(s ? { category: s.category } : {}),
    maxRssKb: peak.kb,
    maxRssSource: peak.source,
    pgid,
    survivors,
  });
}

export type MaxRssSource = "cgroup" | "rusage" | "sampled";

/** The largest figure and its source (the first listed wins a tie). */
export function pickPeak(candidates: Array<[MaxRssSource, number | null]>): { kb: number | null; source: MaxRssSource | null } {
  let best: { kb: number | null; source: MaxRssSource | null } = { kb: null, source: null };
  for (const [source, kb] of candidates) {
    if (kb !== null && kb > 0 && (best.kb === null || kb > best.kb)) best = { kb, source };
  }
  return best;
}
