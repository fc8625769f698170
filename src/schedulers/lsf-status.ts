import { LSF_TERM_REASONS } from "../failures/scheduler-states.js";
import { parseClockSeconds } from "./parse-util.js";
import type { SchedulerJobState, TaskSchedulerState } from "./types.js";

/**
 * LSF status from ONE `bjobs -a -noheader -o '<fields> delimiter=...'` per query: every element of
 * every array job asked about, also the ones that finished within the cluster's CLEAN_PERIOD
 * (`-a`; later `bjobs` answers `Job <123> is not found` and status falls back to the records).
 *
 * `-o` on the command line overrides a site's `LSB_BJOBS_FORMAT` (environment or lsf.conf), so
 * the columns are always ours. `max_mem` is printed scaled to the site's `LSF_UNIT_FOR_LIMITS`
 * with its unit word (`25600 Mbytes`, `1.3 Gbytes`): the word is read, never assumed. Times are
 * `N second(s)` (no `-hms`). Lines that are not rows (`Job <7> is not found`, `LSF is processing
 * your request. Please wait ...` printed by some sites' wrappers) are skipped.
 */

/** The columns cst-batch asks for, in order; `exit_reason` last (free text, may hold the delimiter). */
export const BJOBS_FIELDS = ["jobid", "jobindex", "stat", "exit_code", "run_time", "max_mem", "exec_host", "exit_reason"] as const;
export const BJOBS_DELIMITER = "|";

/** The `-o` argument: `jobid jobindex ... delimiter='|'`. */
export function bjobsFormat(fields: readonly string[] = BJOBS_FIELDS): string {
  return `${fields.join(" ")} delimiter='${BJOBS_DELIMITER}'`;
}

/** `bjobs -a -noheader -o FORMAT 123 124`: one query for every array job of the submissions asked about. */
export function lsfStatusArgv(jobIds: string[]): string[] {
  return ["bjobs", "-a", "-noheader", "-o", bjobsFormat(), ...jobIds];
}

/** Field names bjobs accepts for the same column (`id` is `jobid`, `name` is `job_name`). */
const ALIASES: Record<string, string> = { id: "jobid", name: "job_name" };

/** LSF job states (bjobs STAT) -> ours. EXIT is refined by the exit reason and code (classifyLsfExit). */
export function mapLsfState(stat: string): SchedulerJobState {
  switch (stat.trim()) {
    case "PEND":
    case "PSUSP":
    case "WAIT":
      return "pending";
    case "RUN":
    case "PROV":
    case "USUSP":
    case "SSUSP":
      return "running";
    case "DONE":
      return "completed";
    case "EXIT":
      return "failed";
    default:
      // UNKWN (mbatchd lost the execution host; the job may still run), ZOMBI (being killed, not yet ended).
      return "unknown";
  }
}

/** `TERM_RUNLIMIT: job killed after reaching LSF run time limit` -> `TERM_RUNLIMIT`; null when none. */
export function termReason(exitReason: string | null): string | null {
  return exitReason ? (/^\s*(TERM_[A-Z_]+)/.exec(exitReason)?.[1] ?? null) : null;
}

/**
 * A job that ended EXIT: its termination reason names the catalogue's ends (TERM_RUNLIMIT ->
 * timeout, TERM_MEMLIMIT -> out_of_memory, TERM_OWNER -> cancelled, ...; src/failures/catalogue.ts);
 * otherwise the exit code decides: above 128 a death by signal N-128 (`killed`), else the
 * script's own non-zero exit (`failed`).
 */
export function classifyLsfExit(exitCode: number | null, exitReason: string | null): { state: SchedulerJobState; exitCode: number | null; signal: number | null } {
  const signal = exitCode !== null && exitCode > 128 && exitCode < 192 ? exitCode - 128 : null;
  const word = termReason(exitReason);
  const byReason = word ? LSF_TERM_REASONS.get(word) : undefined;
  if (byReason) return { state: byReason, exitCode, signal };
  if (signal !== null) return { state: "killed", exitCode, signal };
  return { state: "failed", exitCode, signal: null };
}

const KB_PER: Record<string, number> = { B: 1 / 1024, K: 1, M: 1024, G: 1024 ** 2, T: 1024 ** 3, P: 1024 ** 4, E: 1024 ** 5 };

/**
 * `25600 Mbytes`, `1.3 Gbytes`, `512 Kbytes` (LSF's unit words, as in `bjobs -l`'s `MEM: 1 Mbytes`),
 * also `25600 MB` / `2G` -> KiB; null for `-` or a bare number (its unit would be a guess).
 */
export function parseLsfMemKb(text: string | null): number | null {
  const m = text ? /^(\d+(?:\.\d+)?)\s*(?:([KMGTPE])(?:bytes|B)?|(bytes|B))$/i.exec(text.trim()) : null;
  if (!m) return null;
  const factor = KB_PER[(m[2] ?? "B").toUpperCase()];
  return factor === undefined ? null : Math.round(Number(m[1]) * factor);
}

/** `70019 second(s)` (or `19:27:00` with -hms) -> seconds. */
export function parseLsfSeconds(text: string | null): number | null {
  if (!text) return null;
  const m = /^(\d+(?:\.\d+)?)\s*second\(s\)$/.exec(text.trim());
  return m ? Math.round(Number(m[1])) : parseClockSeconds(text);
}

/**
 * Parse bjobs rows whose columns are `fields` (default BJOBS_FIELDS; recorded outputs of other
 * programs are parsed with their own column lists). `-` is an empty value. LSF array indices
 * start at 1: element LSB_JOBINDEX N is cst-batch's array index N - 1 (the script maps it the
 * same way); JOBINDEX 0 is a job that is not an array (arrayIndex null).
 */
export function parseBjobs(stdout: string, fields: readonly string[] = BJOBS_FIELDS): TaskSchedulerState[] {
  const names = fields.map((f) => ALIASES[f.toLowerCase()] ?? f.toLowerCase());
  const out: TaskSchedulerState[] = [];
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || !line.includes(BJOBS_DELIMITER)) continue;
    const parts = line.split(BJOBS_DELIMITER);
    if (parts.length < names.length) continue;
    // The last column keeps any delimiter its text holds (exit_reason, job_name).
    const cells = [...parts.slice(0, names.length - 1), parts.slice(names.length - 1).join(BJOBS_DELIMITER)];
    const get = (name: string): string | null => {
      const i = names.indexOf(name);
      const v = i < 0 ? undefined : cells[i]?.trim();
      return v === undefined || v === "" || v === "-" ? null : v;
    };
    const jobId = get("jobid");
    const stat = get("stat");
    if (!jobId || !/^\d+$/.test(jobId) || !stat) continue;
    const exitText = get("exit_code");
    const exitCode = exitText !== null && /^\d+$/.test(exitText) ? Number(exitText) : null;
    const reason = get("exit_reason");
    let state = mapLsfState(stat);
    let code: number | null = null;
    let signal: number | null = null;
    if (state === "completed") code = 0;
    if (state === "failed") ({ state, exitCode: code, signal } = classifyLsfExit(exitCode, reason));
    const host = get("exec_host");
    out.push({
      jobId,
      arrayIndex: lsfArrayIndex(get("jobindex"), get("job_name")),
      state,
      rawState: stat,
      reason,
      exitCode: code,
      signal,
      elapsedSeconds: parseLsfSeconds(get("run_time")),
      maxRssKb: parseLsfMemKb(get("max_mem")),
      node: host ? (host.split(":")[0]?.replace(/^\d+\*/, "") ?? null) : null,
    });
  }
  return out;
}

/** JOBINDEX `4` (or a job name `name[4]`) -> array index 3; `0` / none -> null (not an array). */
export function lsfArrayIndex(jobIndex: string | null, jobName: string | null): number | null {
  const text = jobIndex ?? (jobName ? (/\[(\d+)\]$/.exec(jobName)?.[1] ?? null) : null);
  if (text === null || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 ? n - 1 : null;
}
