import { CstError } from "../errors.js";
import { arrayRunView, baseView } from "./context.js";
import { formatPbsDuration } from "./duration.js";
import { formatPbsMemory } from "./memory.js";
import { lines, parseClockSeconds, parseSizeKb } from "./parse-util.js";
import { assertBareDirectiveValue } from "../shell/shell-quote.js";
import type { ArrayScriptContext, CollectScriptContext, SchedulerJobState, TaskSchedulerState } from "./types.js";

/**
 * qdel's answer for a job that is ending or gone (PBS Pro and Torque print nothing for a job they
 * delete): "qdel: Job has finished 12.srv" (exit 35), "qdel: Unknown Job Id 12.srv" (153; Torque
 * "qdel: Unknown Job Id Error 12.srv"), "qdel: Request invalid for state of job 12.srv" (168,
 * while it exits). See SchedulerBackend.cancelAnswer.
 */
export const PBS_CANCEL_ANSWER = /^qdel: (Job has finished|Unknown Job Id( Error)?|Request invalid for state of job) \S+/;

/**
 * Values written bare on `#PBS` lines (job name, log folder, queue, account) must need no quoting:
 * PBS Pro's and Torque's directive parsers differ in how (and whether) they honour quotes.
 */
export function assertPbsDirectiveValues(ctx: ArrayScriptContext | CollectScriptContext): void {
  assertBareDirectiveValue(ctx.jobName, "job name");
  if (!/^[A-Za-z]/.test(ctx.jobName)) {
    throw new CstError("USAGE", `a PBS job name must start with a letter: ${JSON.stringify(ctx.jobName)}`, {
      hint: "choose a --job-name starting with a letter",
    });
  }
  assertBareDirectiveValue(ctx.logDir, "log folder (on a #PBS -o/-e line)");
  if (ctx.resources.partition !== null) assertBareDirectiveValue(ctx.resources.partition, "--partition (PBS queue)");
  if (ctx.resources.account !== null) assertBareDirectiveValue(ctx.resources.account, "--account");
}

/** The view fields both PBS dialects share. `logDirSlash` ends in `/`: PBS then names each file itself. */
export function pbsCommonView(ctx: ArrayScriptContext | CollectScriptContext): Record<string, unknown> {
  return {
    ...baseView(ctx),
    walltime: formatPbsDuration(ctx.resources.timeSeconds),
    mem: formatPbsMemory(ctx.resources.memMiB),
    queue: ctx.resources.partition,
    account: ctx.resources.account,
    logDirSlash: ctx.logDir.endsWith("/") ? ctx.logDir : `${ctx.logDir}/`,
  };
}

export function pbsArrayRunView(ctx: ArrayScriptContext): Record<string, unknown> {
  return arrayRunView(ctx);
}

/** `qsub [-W depend=KIND:A:B] SCRIPT`. */
export function pbsSubmitArgv(scriptPath: string, dependsOn: string[] | undefined, kind: string): string[] {
  const argv = ["qsub"];
  if (dependsOn && dependsOn.length > 0) argv.push("-W", `depend=${kind}:${dependsOn.join(":")}`);
  argv.push(scriptPath);
  return argv;
}

/**
 * qsub prints the id on stdout: `1234.server`, `48[].server` (array) — or a bare `48` from
 * Slurm's qsub wrapper. The id is kept whole: qstat/qdel and `-W depend` need it as printed.
 */
export function parsePbsJobId(stdout: string, program = "qsub"): string {
  for (const line of lines(stdout).reverse()) {
    if (/^\d+(\[\])?(\.[A-Za-z0-9_.-]+)?$/.test(line)) return line;
  }
  throw new CstError("SCHEDULER", `${program} printed no job id`, {
    details: [`stdout: ${JSON.stringify(stdout.slice(0, 500))}`],
    hint: "run the qsub command from the submission record by hand to see what it says",
  });
}

/** `48[3].server` -> { parent: "48[].server", index: 3 }; `1234.server` -> { parent: itself, index: null }. */
export function splitPbsJobId(id: string): { parent: string; index: number | null; isArrayParent: boolean } {
  const m = /^(\d+)\[(\d*)\](.*)$/.exec(id);
  if (!m) return { parent: id, index: null, isArrayParent: false };
  const [, seq, idx, rest] = m;
  return { parent: `${seq}[]${rest}`, index: idx === "" ? null : Number(idx), isArrayParent: idx === "" };
}

/** `qstat -f` text -> one record per `Job Id:` block (continuation lines joined). */
export function parseQstatFull(stdout: string): Array<{ id: string; attrs: Map<string, string> }> {
  const jobs: Array<{ id: string; attrs: Map<string, string> }> = [];
  let current: { id: string; attrs: Map<string, string> } | null = null;
  let lastKey: string | null = null;
  for (const raw of stdout.split(/\r?\n/)) {
    const head = /^Job Id:\s*(\S+)/.exec(raw);
    if (head) {
      current = { id: head[1] as string, attrs: new Map() };
      jobs.push(current);
      lastKey = null;
      continue;
    }
    if (!current) continue;
    // Attributes are indented 4 spaces; a long value continues on lines indented with a tab
    // (PBS Pro) or 8 spaces (Torque 6, recorded in test/fixtures/schedulers/torque/).
    const continued = /^(\t| {5,})/.test(raw) && lastKey !== null;
    const kv = continued ? null : /^\s+([A-Za-z_][\w.]*) = (.*)$/.exec(raw);
    if (kv) {
      lastKey = kv[1] as string;
      current.attrs.set(lastKey, kv[2] as string);
    } else if (continued && lastKey !== null) {
      current.attrs.set(lastKey, (current.attrs.get(lastKey) ?? "") + raw.trim());
    }
  }
  return jobs;
}

/**
 * Classify a finished PBS job from its exit status and comment (PBS Pro RG 2024.1 Table 11-1/11-2;
 * Torque 6.1 admin guide "Job exit status"):
 *   0 completed; 1-127 the script's exit code (failed); 128-253 killed by signal X-128;
 *   254 execve failure (failed); >= 256 killed by signal X-256 (some systems);
 *   negative: PBS could not run it or killed it at a limit — PBS Pro -29 walltime, -27 mem, -26 vmem;
 *   Torque -11 walltime, -10 mem; other negatives failed.
 * A comment/log text "walltime 3610 exceeded limit 3600" (or mem ...) wins over the number.
 */
export function classifyPbsExit(
  exitStatus: number | null,
  comment: string | null,
  codes: { walltime: number[]; memory: number[] },
): { state: SchedulerJobState; exitCode: number | null; signal: number | null } {
  const c = comment ?? "";
  if (/walltime\s+\d+\s+exceeded limit/i.test(c)) return { state: "timeout", exitCode: exitStatus, signal: null };
  if (/\bv?mem\s+\d+\w*\s+exceeded limit/i.test(c)) return { state: "out_of_memory", exitCode: exitStatus, signal: null };
  if (exitStatus === null) return { state: "unknown", exitCode: null, signal: null };
  if (codes.walltime.includes(exitStatus)) return { state: "timeout", exitCode: exitStatus, signal: null };
  if (codes.memory.includes(exitStatus)) return { state: "out_of_memory", exitCode: exitStatus, signal: null };
  if (exitStatus === 0) return { state: "completed", exitCode: 0, signal: null };
  if (exitStatus >= 256) return { state: "killed", exitCode: exitStatus, signal: exitStatus - 256 };
  if (exitStatus >= 128 && exitStatus <= 253) return { state: "killed", exitCode: exitStatus, signal: exitStatus - 128 };
  return { state: "failed", exitCode: exitStatus, signal: null };
}

export interface QstatDialect {
  mapState: (raw: string) => SchedulerJobState;
  /** The attribute holding the exit status: PBS Pro `Exit_status`, Torque `exit_status`. */
  exitKey: string;
  limitCodes: { walltime: number[]; memory: number[] };
  /** The array index when the job id does not carry it (Torque's `job_array_id`). */
  indexFallback?: (attrs: Map<string, string>) => number | null;
}

/** Per-element states from `qstat -f` text of either dialect; array parents (`48[].server`) are skipped. */
export function parseQstatStates(stdout: string, dialect: QstatDialect): TaskSchedulerState[] {
  const out: TaskSchedulerState[] = [];
  for (const job of parseQstatFull(stdout)) {
    const { parent, index, isArrayParent } = splitPbsJobId(job.id);
    if (isArrayParent) continue;
    const a = job.attrs;
    const rawState = a.get("job_state") ?? "";
    let state = dialect.mapState(rawState);
    const exitText = a.get(dialect.exitKey);
    const exitStatus = exitText !== undefined && /^-?\d+$/.test(exitText) ? Number(exitText) : null;
    const comment = a.get("comment") ?? null;
    let exitCode: number | null = null;
    let signal: number | null = null;
    if (state === "completed") ({ state, exitCode, signal } = classifyPbsExit(exitStatus, comment, dialect.limitCodes));
    const host = a.get("exec_host");
    out.push({
      jobId: parent,
      arrayIndex: index ?? dialect.indexFallback?.(a) ?? null,
      state,
      rawState,
      reason: comment,
      exitCode,
      signal,
      elapsedSeconds: parseClockSeconds(a.get("resources_used.walltime")),
      maxRssKb: parseSizeKb(a.get("resources_used.mem")),
      node: host ? (host.split("/")[0] ?? null) : null,
      requestedMemKb: parseSizeKb(a.get("Resource_List.mem")),
      requestedSeconds: parseClockSeconds(a.get("Resource_List.walltime")),
    });
  }
  return out;
}
