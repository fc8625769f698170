import os from "node:os";
import { CstError } from "../errors.js";
import { arrayRunView, baseView, validateArrayContext, validateBaseContext } from "./context.js";
import { formatPbsDuration } from "./duration.js";
import { lines } from "./parse-util.js";
import { renderTemplate } from "./render.js";
import { parseQacct, parseSgeQstatXml } from "./sge-parse.js";
import type { ArrayScriptContext, CollectScriptContext, RenderOptions, SchedulerBackend, SubmitOptions } from "./types.js";

/**
 * Grid Engine (Son of Grid Engine 8.1.9, Univa/Altair GE, Open Cluster Scheduler): `#$` scripts,
 * `qsub -terse`, `qstat -xml`, `qacct -j`, `qdel`. Array tasks are numbered from 1
 * (`#$ -t 1-N`); the plan's chunk of task T is `chunkOffset + T - 1` (the template says so).
 * Parsers live in sge-parse.ts.
 */

/** The memory resource when the profile names none: scheduled everywhere, enforced nowhere. */
export const DEFAULT_SGE_MEMORY_RESOURCE = "mem_free";

/** Letters, digits and `_ + = , . / -` only: `#$` lines are split on white space, `:`/`@`/`$` have meanings. */
const SGE_BARE = /^[A-Za-z0-9_+=,./-]+$/;

function assertSgeBare(value: string, what: string, hint = `choose a ${what} without spaces, quotes or shell characters`): void {
  if (value === "" || !SGE_BARE.test(value)) {
    throw new CstError("USAGE", `${what} cannot be written on a Grid Engine #$ directive line: ${JSON.stringify(value)}`, {
      details: [
        "expected: letters, digits and _ + = , . / - only (#$ options are split on white space; : @ $ have meanings there)",
        `found: ${JSON.stringify(value)}${value === "" ? "" : ` (first character not allowed: ${JSON.stringify([...value].find((c) => !SGE_BARE.test(c)) ?? "")})`}`,
      ],
      hint,
    });
  }
}

function sgeCommonView(ctx: ArrayScriptContext | CollectScriptContext): Record<string, unknown> {
  const r = ctx.resources;
  assertSgeBare(ctx.jobName, "the job name (--job-name)", "choose a --job-name of letters, digits and _ + = , . / - (e.g. cst-batch)");
  if (!/^[A-Za-z]/.test(ctx.jobName) || ctx.jobName.includes("/")) {
    throw new CstError("USAGE", `a Grid Engine job name must start with a letter and hold no '/': ${JSON.stringify(ctx.jobName)}`, {
      hint: "choose a --job-name starting with a letter",
    });
  }
  assertSgeBare(
    ctx.logDir,
    "the scheduler log folder (under --out, on the #$ -o/-e lines)",
    "choose an --out path of letters, digits and _ + = , . / - only (e.g. a symlink without spaces to the study folder), or use --scheduler local",
  );
  if (r.qos !== null) {
    throw new CstError("USAGE", "--qos is a Slurm option; Grid Engine has no QOS", {
      details: ["expected: no --qos (nor profile \"qos\") with --scheduler sge", `found: ${JSON.stringify(r.qos)}`],
      hint: "leave --qos out (and the profile's \"qos\"); a site-specific request goes in --scheduler-arg",
    });
  }
  if (r.gres !== null) {
    throw new CstError("USAGE", "--gres has no generic Grid Engine equivalent", {
      details: ["expected: no --gres (nor profile \"gres\") with --scheduler sge", `found: ${JSON.stringify(r.gres)}`],
      hint: "request GPUs with --scheduler-arg '-l gpu=1' (the site's resource name) and leave --gres out",
    });
  }
  if (r.partition !== null) assertSgeBare(r.partition, "--queue (Grid Engine queue)");
  if (r.account !== null) assertSgeBare(r.account, "--account");
  const resource = r.memoryResource ?? DEFAULT_SGE_MEMORY_RESOURCE;
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(resource)) {
    throw new CstError("USAGE", `profile "sge_memory_resource" must be a resource name such as h_vmem, mem_free or m_mem_free, found ${JSON.stringify(resource)}`);
  }
  let pe: string | null = null;
  if (r.cpus > 1) {
    pe = r.parallelEnvironment ?? null;
    if (pe === null) {
      throw new CstError("USAGE", `--cpus ${r.cpus} needs a Grid Engine parallel environment, and the profile names none (key "sge_pe")`, {
        details: ["expected: profile key \"sge_pe\" (e.g. \"smp\"; `qconf -spl` lists the site's)", "found: none"],
        hint: 'add "sge_pe": "smp" (your site\'s name) to the profile, or submit with --cpus 1',
      });
    }
    assertSgeBare(pe, 'profile "sge_pe"');
  }
  // Grid Engine multiplies a memory request by the slots of a parallel job: ask per slot.
  const perSlotMiB = Math.ceil(r.memMiB / r.cpus);
  const memoryNote =
    r.cpus > 1
      ? `memory: ${r.memMiB}M in all, requested per slot (${resource} x ${r.cpus} slots); h_vmem limits virtual memory per slot`
      : `memory: ${r.memMiB}M as ${resource}${resource === "h_vmem" ? " (h_vmem limits virtual memory, per slot)" : ""}`;
  return {
    ...baseView(ctx),
    logDirSlash: ctx.logDir.endsWith("/") ? ctx.logDir : `${ctx.logDir}/`,
    hRt: formatPbsDuration(r.timeSeconds),
    memoryRequest: `${resource}=${perSlotMiB}M`,
    memoryNote,
    pe,
    queue: r.partition,
    account: r.account,
  };
}

/** The view for `sge/array.sh.hbs` (documented in templates/README.md). */
export function sgeArrayView(ctx: ArrayScriptContext): Record<string, unknown> {
  validateArrayContext(ctx);
  const common = sgeCommonView(ctx);
  const t = ctx.resources.timeSeconds;
  const w = ctx.signalWarningSeconds;
  return {
    ...common,
    ...arrayRunView(ctx),
    taskRange: `1-${ctx.arraySize}`,
    throttle: ctx.throttle,
    // s_rt: SIGUSR1 this long before h_rt (as Slurm's --signal=B:USR1@T): run-one records TIMEOUT.
    sRt: w > 0 && t > w ? formatPbsDuration(t - w) : null,
  };
}

export function sgeCollectView(ctx: CollectScriptContext): Record<string, unknown> {
  validateBaseContext(ctx);
  return sgeCommonView(ctx);
}

/** `qsub -terse [-hold_jid A,B] SCRIPT` (a held job starts after those jobs end, whatever their outcome). */
export function sgeSubmitArgv(scriptPath: string, opts: SubmitOptions = {}): string[] {
  const argv = ["qsub", "-terse"];
  if (opts.dependsOn && opts.dependsOn.length > 0) argv.push("-hold_jid", opts.dependsOn.join(","));
  argv.push(scriptPath);
  return argv;
}

/** `qsub -terse` prints `123` (a job) or `123.1-10:1` (an array); returns `123`. */
export function parseSgeJobId(stdout: string): string {
  for (const line of lines(stdout).reverse()) {
    const m = /^(\d+)(?:\.\d+(?:-\d+)?(?::\d+)?)?$/.exec(line);
    if (m) return m[1] as string;
  }
  throw new CstError("SCHEDULER", "qsub printed no job id", {
    details: [`stdout: ${JSON.stringify(stdout.slice(0, 500))}`],
    hint: "run the qsub command from the submission record by hand to see what it says",
  });
}

/** `qstat -xml -u USER`: the user's pending and running tasks (finished ones are in qacct only). */
export function sgeStatusArgv(_jobIds: string[]): string[] {
  return ["qstat", "-xml", "-u", currentUser()];
}

/** `qacct -j ID`: one job's finished tasks (qacct takes one job per call). */
export function sgeAccountingArgv(jobIds: string[]): string[] {
  return ["qacct", "-j", ...jobIds.slice(0, 1)];
}

/** `qdel 12 13.4`: an element id `13_3` (plan index 3) is Grid Engine's task 4 (`job.task`). */
export function sgeCancelArgv(ids: string[]): string[] {
  return ["qdel", ...ids.map((id) => {
    const m = /^(\d+)_(\d+)$/.exec(id);
    return m ? `${m[1]}.${Number(m[2]) + 1}` : id;
  })];
}

function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? "*";
  }
}

export const sgeBackend: SchedulerBackend = {
  name: "sge",
  peakSource: "qacct",
  submitCommand: "qsub",
  renderArrayScript: (ctx: ArrayScriptContext, opts: RenderOptions = {}) => renderTemplate("sge/array.sh.hbs", sgeArrayView(ctx), opts.templateDir),
  renderCollectScript: (ctx: CollectScriptContext, opts: RenderOptions = {}) => renderTemplate("sge/collect.sh.hbs", sgeCollectView(ctx), opts.templateDir),
  submitArgv: sgeSubmitArgv,
  parseJobId: parseSgeJobId,
  statusQueryArgv: sgeStatusArgv,
  parseStatus: parseSgeQstatXml,
  accountingQueryArgv: sgeAccountingArgv,
  parseAccounting: parseQacct,
  cancelArgv: sgeCancelArgv,
  // As qdel answers (recorded on the test Grid Engine, SGE 8.1.9): "root has registered the job-array task 34.2 for deletion",
  // "root has deleted job 35", "job 33 is already in deletion", 'job "34" task "1" does not exist', 'denied: job "99999" does not exist'.
  cancelAnswer: /^(\S+ has (registered the job(-array task)? \S+ for deletion|deleted job(-array task)? \S+)|job \S+ is already in deletion|(denied: )?job "[^"]+"( task "[^"]+")? does not exist)$/,
  accountingComplementsQueue: true,
  accountingIdsPerCommand: 1,
};
