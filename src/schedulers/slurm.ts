import path from "node:path";
import { CstError } from "../errors.js";
import { SLURM_FAILURE_STATES } from "../failures/scheduler-states.js";
import { arrayRunView, baseView, validateArrayContext, validateBaseContext } from "./context.js";
import { formatSlurmDuration } from "./duration.js";
import { formatSlurmMemory } from "./memory.js";
import { expandIndexList, lines, parseClockSeconds, parseSizeKb } from "./parse-util.js";
import { renderTemplate } from "./render.js";
import type {
  ArrayScriptContext,
  CollectScriptContext,
  RenderOptions,
  SchedulerBackend,
  SchedulerJobState,
  SubmitOptions,
  TaskSchedulerState,
} from "./types.js";

/** squeue columns, `|`-separated: id, own job id, array job id, array index, state, reason, elapsed, nodes. */
export const SQUEUE_FORMAT = "%i|%A|%F|%K|%T|%r|%M|%N";
/** sacct columns (with steps: MaxRSS lives on the `.batch` step). */
export const SACCT_FIELDS = "JobID,JobIDRaw,State,ExitCode,Elapsed,MaxRSS,NodeList";

/**
 * A Slurm output/error file pattern inside `dir`: `%` in the folder is doubled so Slurm does not
 * expand it; a backslash is rejected (Slurm turns pattern expansion off for the whole name then,
 * and every task would write one file).
 */
export function slurmLogPattern(dir: string, file: string): string {
  if (dir.includes("\\")) {
    throw new CstError("USAGE", `the log folder cannot contain a backslash on Slurm: ${JSON.stringify(dir)}`, {
      hint: "Slurm disables %A/%a expansion in a file name holding a backslash; choose an --out without one",
    });
  }
  return path.join(dir.replaceAll("%", "%%"), file);
}

function resourceView(ctx: ArrayScriptContext | CollectScriptContext): Record<string, unknown> {
  const r = ctx.resources;
  return {
    time: formatSlurmDuration(r.timeSeconds),
    mem: formatSlurmMemory(r.memMiB),
    partition: r.partition,
    account: r.account,
    qos: r.qos,
    gres: r.gres,
  };
}

/** The view for `slurm/array.sh.hbs` (documented in templates/README.md). */
export function slurmArrayView(ctx: ArrayScriptContext): Record<string, unknown> {
  validateArrayContext(ctx);
  const range = `0-${ctx.arraySize - 1}${ctx.throttle !== null ? `%${ctx.throttle}` : ""}`;
  return {
    ...baseView(ctx),
    ...arrayRunView(ctx),
    ...resourceView(ctx),
    arraySpec: range,
    outputPattern: slurmLogPattern(ctx.logDir, "array_%A_%a.out"),
    errorPattern: slurmLogPattern(ctx.logDir, "array_%A_%a.err"),
    signal: ctx.signalWarningSeconds > 0 ? `B:USR1@${ctx.signalWarningSeconds}` : null,
  };
}

export function slurmCollectView(ctx: CollectScriptContext): Record<string, unknown> {
  validateBaseContext(ctx);
  return {
    ...baseView(ctx),
    ...resourceView(ctx),
    outputPattern: slurmLogPattern(ctx.logDir, "collect_%j.out"),
    errorPattern: slurmLogPattern(ctx.logDir, "collect_%j.err"),
  };
}

/** `sbatch --parsable [--dependency=afterany:A:B] SCRIPT`. */
export function slurmSubmitArgv(scriptPath: string, opts: SubmitOptions = {}): string[] {
  const argv = ["sbatch", "--parsable"];
  if (opts.dependsOn && opts.dependsOn.length > 0) argv.push(`--dependency=afterany:${opts.dependsOn.join(":")}`);
  argv.push(scriptPath);
  return argv;
}

/** `--parsable` prints `12` or `12;cluster` (federation / multi-cluster); returns `12`. */
export function parseSlurmJobId(stdout: string): string {
  for (const line of lines(stdout).reverse()) {
    const m = /^(\d+)(?:;\S+)?$/.exec(line);
    if (m) return m[1] as string;
  }
  throw new CstError("SCHEDULER", "sbatch printed no job id", {
    details: [`stdout: ${JSON.stringify(stdout.slice(0, 500))}`],
    hint: "run the sbatch command from the submission record by hand to see what it says",
  });
}

/** Slurm's state words -> ours. `CANCELLED by 123` counts as CANCELLED. */
export function mapSlurmState(raw: string): SchedulerJobState {
  const word = raw.trim().split(/\s+/)[0]?.replace(/\+$/, "") ?? "";
  switch (word) {
    case "PENDING":
    case "REQUEUED":
    case "REQUEUE_HOLD":
    case "REQUEUE_FED":
    case "RESV_DEL_HOLD":
    case "CONFIGURING":
    case "PD":
    case "CF":
      return "pending";
    case "RUNNING":
    case "COMPLETING":
    case "STAGE_OUT":
    case "SIGNALING":
    case "RESIZING":
    case "SUSPENDED":
    case "STOPPED":
    case "R":
    case "CG":
      return "running";
    case "COMPLETED":
    case "CD":
      return "completed";
    case "FAILED":
    case "BOOT_FAIL":
    case "DEADLINE":
    case "SPECIAL_EXIT":
    case "F":
      return "failed";
    default:
      // The ends the failure catalogue names (TIMEOUT, OUT_OF_MEMORY, CANCELLED, NODE_FAIL, ...).
      return SLURM_FAILURE_STATES.get(word) ?? "unknown";
  }
}

/** `squeue -h -r -t all -j A,B -o SQUEUE_FORMAT`: every element, also finished ones (for MinJobAge). */
export function slurmStatusArgv(jobIds: string[]): string[] {
  return ["squeue", "-h", "-r", "-t", "all", "-j", jobIds.join(","), "-o", SQUEUE_FORMAT];
}

/**
 * Parse `SQUEUE_FORMAT` lines. Pending remainders that were not expanded (`12_[3-5%2]`, index
 * `3-5%2`) become one row per index. A non-array job has arrayIndex null.
 */
export function parseSlurmSqueue(stdout: string): TaskSchedulerState[] {
  const out: TaskSchedulerState[] = [];
  for (const line of lines(stdout)) {
    const f = line.split("|");
    if (f.length < 5) continue;
    const [id = "", , arrayJob = "", index = "", rawState = "", reason = "", elapsed = "", node = ""] = f;
    const jobId = arrayJob !== "" && arrayJob !== "0" ? arrayJob : (id.split("_")[0] ?? id);
    const base = {
      jobId,
      state: mapSlurmState(rawState),
      rawState,
      reason: reason === "" || reason === "None" ? null : reason,
      exitCode: null,
      signal: null,
      elapsedSeconds: parseClockSeconds(elapsed),
      maxRssKb: null,
      node: node === "" ? null : node,
    };
    if (index === "N/A" || index === "") {
      out.push({ ...base, arrayIndex: null });
      continue;
    }
    const indices = expandIndexList(index);
    if (!indices) continue;
    for (const i of indices) out.push({ ...base, arrayIndex: i });
  }
  return out;
}

/** `sacct -P -n -j A,B -o SACCT_FIELDS` (steps included, see `parseSlurmSacct`). */
export function slurmAccountingArgv(jobIds: string[]): string[] {
  return ["sacct", "-P", "-n", "-j", jobIds.join(","), "-o", SACCT_FIELDS];
}

interface SacctRow {
  jobId: string;
  arrayIndex: number[] | null;
  step: string | null;
  state: string;
  exit: number | null;
  signal: number | null;
  elapsed: number | null;
  rss: number | null;
  node: string | null;
}

function parseSacctLine(line: string): SacctRow | null {
  const f = line.split("|");
  if (f.length < 4) return null;
  const [jobIdField = "", , state = "", exitCode = "", elapsed = "", rss = "", node = ""] = f;
  const m = /^(\d+)(?:_(\[[^\]]*\]|\d+))?(?:\.(.+))?$/.exec(jobIdField);
  if (!m) return null;
  const [, jobId = "", idx, step] = m;
  const ec = /^(\d+):(\d+)$/.exec(exitCode);
  return {
    jobId,
    arrayIndex: idx === undefined ? null : expandIndexList(idx),
    step: step ?? null,
    state,
    exit: ec ? Number(ec[1]) : null,
    signal: ec && Number(ec[2]) !== 0 ? Number(ec[2]) : null,
    elapsed: parseClockSeconds(elapsed),
    rss: parseSizeKb(rss),
    node: node === "" || node === "None assigned" ? null : node,
  };
}

/**
 * Parse sacct output with steps: one record per job / array element (the row without a step),
 * with MaxRSS = the largest of its steps', the signal taken from a step when the job row has none,
 * and OUT_OF_MEMORY when any step ran out of memory.
 */
export function parseSlurmSacct(stdout: string): TaskSchedulerState[] {
  const rows = lines(stdout)
    .map(parseSacctLine)
    .filter((r): r is SacctRow => r !== null);
  const key = (jobId: string, idx: number | null): string => `${jobId}_${idx ?? ""}`;
  const steps = new Map<string, SacctRow[]>();
  for (const r of rows) {
    if (r.step === null) continue;
    for (const i of r.arrayIndex ?? [null]) {
      const k = key(r.jobId, i);
      steps.set(k, [...(steps.get(k) ?? []), r]);
    }
  }
  const out: TaskSchedulerState[] = [];
  for (const r of rows) {
    if (r.step !== null) continue;
    for (const i of r.arrayIndex ?? [null]) {
      const mine = steps.get(key(r.jobId, i)) ?? [];
      let state = mapSlurmState(r.state);
      if (mine.some((s) => mapSlurmState(s.state) === "out_of_memory") && state === "failed") state = "out_of_memory";
      const rssValues = mine.map((s) => s.rss).filter((v): v is number => v !== null);
      out.push({
        jobId: r.jobId,
        arrayIndex: i,
        state,
        rawState: r.state,
        reason: null,
        exitCode: state === "pending" || state === "running" ? null : r.exit,
        signal: r.signal ?? mine.find((s) => s.signal !== null)?.signal ?? null,
        elapsedSeconds: r.elapsed,
        maxRssKb: rssValues.length > 0 ? Math.max(...rssValues) : r.rss,
        node: r.node,
      });
    }
  }
  return out;
}

export const slurmBackend: SchedulerBackend = {
  name: "slurm",
  peakSource: "sacct",
  submitCommand: "sbatch",
  renderArrayScript: (ctx: ArrayScriptContext, opts: RenderOptions = {}) =>
    renderTemplate("slurm/array.sh.hbs", slurmArrayView(ctx), opts.templateDir),
  renderCollectScript: (ctx: CollectScriptContext, opts: RenderOptions = {}) =>
    renderTemplate("slurm/collect.sh.hbs", slurmCollectView(ctx), opts.templateDir),
  submitArgv: slurmSubmitArgv,
  parseJobId: parseSlurmJobId,
  statusQueryArgv: slurmStatusArgv,
  parseStatus: parseSlurmSqueue,
  accountingQueryArgv: slurmAccountingArgv,
  parseAccounting: parseSlurmSacct,
  cancelArgv: (jobIds: string[]) => ["scancel", ...jobIds],
};
