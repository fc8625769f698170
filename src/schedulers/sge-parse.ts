import { sgeFailedCodes } from "../failures/scheduler-states.js";
import { expandIndexList, parseClockSeconds, parseSizeKb } from "./parse-util.js";
import type { SchedulerJobState, TaskSchedulerState } from "./types.js";

/**
 * Parsers for Grid Engine's answers (formats recorded from Son of Grid Engine 8.1.9 in
 * test/fixtures/schedulers/sge/). Array task T (from 1) is reported as arrayIndex T - 1, the
 * plan's 0-based index within the array; a job that is not an array has arrayIndex null.
 */

/** `qw`, `hqw`, `r`, `t`, `dr`, `Eqw`, `s`, `Rr` -> ours. */
export function mapSgeState(code: string): SchedulerJobState {
  if (code.includes("E")) return "failed";
  if (/[rtRsST]/.test(code)) return "running";
  if (/[qwh]/.test(code)) return "pending";
  return "unknown";
}

function tag(block: string, name: string): string | null {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(block);
  return m ? (m[1] as string).trim() : null;
}

/** `3` -> [3]; `1-4:1` -> [1,2,3,4]; `5-9:2,12` -> [5,7,9,12]; null when not a task list. */
export function expandSgeTasks(text: string): number[] | null {
  return expandIndexList(text);
}

/**
 * `qstat -xml` (running tasks under queue_info, pending ones under job_info; a pending array
 * remainder is one entry whose `tasks` is a range). Unknown entries are skipped.
 */
export function parseSgeQstatXml(stdout: string): TaskSchedulerState[] {
  const out: TaskSchedulerState[] = [];
  for (const m of stdout.matchAll(/<job_list\b[^>]*>([\s\S]*?)<\/job_list>/g)) {
    const block = m[1] as string;
    const jobId = tag(block, "JB_job_number");
    const rawState = tag(block, "state") ?? "";
    if (jobId === null || !/^\d+$/.test(jobId)) continue;
    const state = mapSgeState(rawState);
    const queue = tag(block, "queue_name");
    const node = queue ? (queue.split("@")[1] ?? null) : null;
    const base = {
      jobId,
      state,
      rawState,
      reason: state === "failed" ? `Grid Engine error state ${rawState} (qstat -j ${jobId} says why)` : null,
      exitCode: null,
      signal: null,
      elapsedSeconds: null,
      maxRssKb: null,
      node: node === "" ? null : node,
    };
    const tasks = tag(block, "tasks");
    if (tasks === null || tasks === "") {
      out.push({ ...base, arrayIndex: null });
      continue;
    }
    const ids = expandSgeTasks(tasks);
    if (!ids) continue;
    for (const t of ids) out.push({ ...base, arrayIndex: t - 1 });
  }
  return out;
}

/** `5.301MB`, `1.2GB`, `0.000B`, `512.000KB` -> KiB. */
function parseSgeSize(text: string | undefined): number | null {
  if (text === undefined) return null;
  return parseSizeKb(text.replace(/B$/i, "").replace(/^(\d+(?:\.\d+)?)$/, "$1B"));
}

/**
 * `ru_maxrss 4.461KB`: getrusage's ru_maxrss is in KiB, but qacct 8.1.9 prints it as if it were
 * bytes, scaled by 1000 (4461 -> `4.461KB`, seen on the real Grid Engine): undo that.
 */
function parseRuMaxrss(text: string | undefined): number | null {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)B?$/i.exec((text ?? "").trim());
  if (!m) return null;
  const scale: Record<string, number> = { "": 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * (scale[(m[2] ?? "").toUpperCase()] ?? 1));
}

/** `67s`, `67`, `67.000` -> seconds. */
function parseSgeSeconds(text: string | undefined): number | null {
  if (text === undefined) return null;
  const m = /^(\d+)(?:\.\d+)?s?$/.exec(text.trim());
  return m ? Number(m[1]) : null;
}

/** A `-l a=1,b=2` value inside qacct's `category` line. */
function categoryResource(category: string | undefined, name: string): string | null {
  if (!category) return null;
  const m = new RegExp(`(?:^|[\\s,])${name}=([^\\s,]+)`).exec(category);
  return m ? (m[1] as string) : null;
}

/** `8G`, `4096M`, `1024K` (Grid Engine memory values, 1024-based as upper-case units) -> KiB. */
function parseSgeMemValue(text: string | null): number | null {
  if (text === null) return null;
  return parseSizeKb(text);
}

/**
 * Classify one qacct record (accounting(5)): `failed` 0 = the job ran (exit_status is the
 * script's; > 128 = killed by signal N-128); the catalogue's walltime codes (37: "qmaster enforced
 * h_rt, h_cpu, or h_vmem limit") mean out_of_memory when maxvmem reached the h_vmem request, else
 * timeout; 100 ("assumedly after job") with a signal exit = killed (qdel, a limit kill); any other
 * code = the job could not be started or ended in Grid Engine's own error (failed).
 */
export function classifySgeAccounting(rec: {
  failed: number | null;
  exitStatus: number | null;
  maxvmemKb: number | null;
  requestedVmemKb: number | null;
}): { state: SchedulerJobState; exitCode: number | null; signal: number | null } {
  const codes = sgeFailedCodes();
  const exit = rec.exitStatus;
  const signal = exit !== null && exit > 128 && exit < 160 ? exit - 128 : null;
  const memHit = rec.requestedVmemKb !== null && rec.maxvmemKb !== null && rec.maxvmemKb >= rec.requestedVmemKb;
  if (rec.failed !== null && codes.memory.includes(rec.failed)) return { state: "out_of_memory", exitCode: exit, signal };
  if (rec.failed !== null && codes.walltime.includes(rec.failed)) return { state: memHit ? "out_of_memory" : "timeout", exitCode: exit, signal };
  if (rec.failed !== null && rec.failed !== 0 && rec.failed !== 100) return { state: "failed", exitCode: exit, signal };
  if (exit === null) return { state: "unknown", exitCode: null, signal: null };
  if (signal !== null) return { state: memHit && signal === 9 ? "out_of_memory" : "killed", exitCode: exit, signal };
  if (exit === 0 && rec.failed !== 100) return { state: "completed", exitCode: 0, signal: null };
  return { state: "failed", exitCode: exit, signal: null };
}

/**
 * `qacct -j ID` text: blocks separated by `=====` lines, one per finished task (a task Grid
 * Engine started more than once has several; the last one wins).
 */
export function parseQacct(stdout: string): TaskSchedulerState[] {
  const byTask = new Map<string, TaskSchedulerState>();
  for (const block of stdout.split(/^=+\s*$/m)) {
    const f = new Map<string, string>();
    for (const line of block.split(/\r?\n/)) {
      const m = /^([a-z_]+)\s+(.*)$/.exec(line.trimEnd());
      if (m) f.set(m[1] as string, (m[2] as string).trim());
    }
    const jobId = f.get("jobnumber");
    if (jobId === undefined || !/^\d+$/.test(jobId)) continue;
    const task = f.get("taskid");
    const arrayIndex = task !== undefined && /^\d+$/.test(task) ? Number(task) - 1 : null;
    const failedText = f.get("failed") ?? "";
    const failed = /^(\d+)/.exec(failedText) ? Number(/^(\d+)/.exec(failedText)![1]) : null;
    const exitStatus = /^(\d+)/.exec(f.get("exit_status") ?? "") ? Number(/^(\d+)/.exec(f.get("exit_status")!)![1]) : null;
    const category = f.get("category");
    const maxvmemKb = parseSgeSize(f.get("maxvmem"));
    // Memory requests are per slot (`-pe smp 4` with h_vmem=2G may use 8G); maxvmem is the job's.
    const slots = /^\d+$/.test(f.get("slots") ?? "") ? Math.max(1, Number(f.get("slots"))) : 1;
    const perJob = (kb: number | null): number | null => (kb === null ? null : kb * slots);
    const requestedVmemKb = perJob(parseSgeMemValue(categoryResource(category, "h_vmem")));
    const { state, exitCode, signal } = classifySgeAccounting({ failed, exitStatus, maxvmemKb, requestedVmemKb });
    const hRt = categoryResource(category, "h_rt");
    const reasonText = failedText.replace(/^\d+\s*:?\s*/, "");
    const host = f.get("hostname");
    byTask.set(`${jobId}:${arrayIndex ?? "-"}`, {
      jobId,
      arrayIndex,
      state,
      rawState: `failed ${failedText || "?"}, exit_status ${f.get("exit_status") ?? "?"}`,
      reason: failed !== null && failed !== 0 ? `qacct failed ${failed}${reasonText ? `: ${reasonText}` : ""}` : null,
      exitCode,
      signal,
      elapsedSeconds: parseSgeSeconds(f.get("ru_wallclock")),
      maxRssKb: parseRuMaxrss(f.get("ru_maxrss")),
      node: host && host !== "" ? host : null,
      requestedMemKb: requestedVmemKb ?? perJob(parseSgeMemValue(categoryResource(category, "mem_free")) ?? parseSgeMemValue(categoryResource(category, "m_mem_free"))),
      requestedSeconds: hRt === null ? null : /^\d+$/.test(hRt) ? Number(hRt) : parseClockSeconds(hRt),
    });
  }
  return [...byTask.values()];
}
