import path from "node:path";
import { CstError } from "../errors.js";
import { arrayRunView, baseView, validateArrayContext, validateBaseContext } from "./context.js";
import { lsfStatusArgv, parseBjobs } from "./lsf-status.js";
import { lines } from "./parse-util.js";
import { renderTemplate } from "./render.js";
import { lsfDirectiveQuote } from "../shell/shell-quote.js";
import type { ArrayScriptContext, CollectScriptContext, LsfUnit, RenderOptions, SchedulerBackend, SubmitOptions } from "./types.js";

/**
 * IBM Spectrum LSF. Scripts are submitted on stdin (`bsub < script`: every site reads the `#BSUB`
 * lines of a script given that way, not every site those of a script given as an argument); arrays are `#BSUB -J "name[1-N]%T"` — LSF indices
 * start at 1, so element LSB_JOBINDEX runs cst-batch's array index LSB_JOBINDEX - 1 (the script
 * and the status parser map it the same way). LSF cannot run in this project's CI: the scripts are
 * proven by golden files, the parsers by recorded real outputs (test/fixtures/schedulers/lsf/).
 */

const KIB_PER_UNIT: Record<LsfUnit, number> = { KB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3, PB: 1024 ** 4, EB: 1024 ** 5 };

/**
 * Memory numbers in the site's `LSF_UNIT_FOR_LIMITS` (rounded up to a whole unit). When the site
 * does not set it, LSF reads `-M` in KB and `rusage[mem=]` in MB (the same defaults Nextflow's
 * LsfExecutor applies); when set, both use it.
 */
export function lsfMemoryNumbers(memMiB: number, unit: LsfUnit | null | undefined): { limit: number; usage: number } {
  const kib = memMiB * 1024;
  const inUnit = (u: LsfUnit): number => Math.ceil(kib / KIB_PER_UNIT[u]);
  return { limit: inUnit(unit ?? "KB"), usage: inUnit(unit ?? "MB") };
}

/** `-W [hour:]minute`: whole minutes rounded up, written `H:MM` (hours unbounded). */
export function formatLsfRunLimit(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds <= 0) throw new CstError("USAGE", `a time limit must be a whole number of seconds above zero, found ${seconds}`);
  const minutes = Math.ceil(seconds / 60);
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
}

/** `--gres gpu:N` (or `gpu:type:N`) -> `-gpu "num=N"` (LSF 10.1.0.3 and later); other forms have no generic LSF meaning. */
function lsfGpu(gres: string | null): string | null {
  if (gres === null) return null;
  const m = /^gpu(?::[A-Za-z0-9_-]+)?:(\d+)$/.exec(gres);
  if (!m) {
    throw new CstError("USAGE", `--gres ${JSON.stringify(gres)} has no LSF equivalent`, {
      details: ['expected: gpu:N (becomes #BSUB -gpu "num=N")'],
      hint: "request other resources with --scheduler-arg '-R \"...\"' and leave --gres out",
    });
  }
  return `num=${m[1]}`;
}

/**
 * Checks of the values written on `#BSUB` lines. The job name is also the array name
 * (`name[1-N]`): letters, digits and `_ . - @ + = : ,` only. The log folder is written in
 * double quotes (spaces are fine); `%` is rejected there, LSF expands `%J`/`%I` in file names.
 */
function assertLsfDirectiveValues(ctx: ArrayScriptContext | CollectScriptContext): void {
  if (!/^[A-Za-z0-9_@+=:,./-]+$/.test(ctx.jobName)) {
    throw new CstError("USAGE", `the job name cannot be written on a #BSUB -J line: ${JSON.stringify(ctx.jobName)}`, {
      details: [
        "expected: letters, digits and _ @ + = : , . / - only (it is also the array name, name[1-N])",
        `found: ${JSON.stringify(ctx.jobName)} (first character not allowed: ${JSON.stringify([...ctx.jobName].find((c) => !/[A-Za-z0-9_@+=:,./-]/.test(c)) ?? "")})`,
      ],
      hint: "choose a --job-name without spaces, brackets, % or shell characters",
    });
  }
  lsfDirectiveQuote(ctx.logDir, "log folder (on a #BSUB -o/-e line)");
  if (ctx.logDir.includes("%")) {
    throw new CstError("USAGE", `the log folder cannot contain % on LSF: ${JSON.stringify(ctx.logDir)}`, {
      hint: "LSF expands %J and %I in -o/-e file names; choose an --out without %",
    });
  }
  if (ctx.resources.partition !== null) lsfDirectiveQuote(ctx.resources.partition, "--partition (LSF queue)");
  if (ctx.resources.account !== null) lsfDirectiveQuote(ctx.resources.account, "--account (LSF project, -P)");
  if (ctx.resources.qos !== null) {
    throw new CstError("USAGE", "--qos is a Slurm option; LSF has no QOS", {
      details: ["expected: no --qos (nor profile \"qos\") with --scheduler lsf", `found: ${JSON.stringify(ctx.resources.qos)}`],
      hint: "leave --qos out (and the profile's \"qos\"), or pass a site-specific option with --scheduler-arg (e.g. '-sla NAME')",
    });
  }
}

function lsfCommonView(ctx: ArrayScriptContext | CollectScriptContext): Record<string, unknown> {
  const mem = lsfMemoryNumbers(ctx.resources.memMiB, ctx.lsfUnitForLimits);
  return {
    ...baseView(ctx),
    runLimit: formatLsfRunLimit(ctx.resources.timeSeconds),
    memLimit: mem.limit,
    memUsage: `rusage[mem=${mem.usage}]`,
    memLimitUnit: ctx.lsfUnitForLimits ?? "KB",
    memUsageUnit: ctx.lsfUnitForLimits ?? "MB",
    queue: ctx.resources.partition,
    project: ctx.resources.account,
    gpu: lsfGpu(ctx.resources.gres),
  };
}

/** The view for `lsf/array.sh.hbs` (documented in templates/README.md). */
export function lsfArrayView(ctx: ArrayScriptContext): Record<string, unknown> {
  validateArrayContext(ctx);
  assertLsfDirectiveValues(ctx);
  return {
    ...lsfCommonView(ctx),
    ...arrayRunView(ctx),
    arrayName: `${ctx.jobName}[1-${ctx.arraySize}]${ctx.throttle !== null ? `%${ctx.throttle}` : ""}`,
    outputPattern: path.join(ctx.logDir, "array_%J_%I.out"),
    errorPattern: path.join(ctx.logDir, "array_%J_%I.err"),
  };
}

export function lsfCollectView(ctx: CollectScriptContext): Record<string, unknown> {
  validateBaseContext(ctx);
  assertLsfDirectiveValues(ctx);
  return {
    ...lsfCommonView(ctx),
    outputPattern: path.join(ctx.logDir, "collect_%J.out"),
    errorPattern: path.join(ctx.logDir, "collect_%J.err"),
  };
}

/**
 * `bsub [-w "ended(A) && ended(B)"] < SCRIPT`. The `<` and the script path end the argv: the runner
 * (src/schedulers/runner.ts, stdinRedirect) feeds the file on stdin, and formatArgv prints it as
 * the redirect a user would type. `ended()` holds whatever way the jobs end (Slurm's afterany).
 */
export function lsfSubmitArgv(scriptPath: string, opts: SubmitOptions = {}): string[] {
  const argv = ["bsub"];
  if (opts.dependsOn && opts.dependsOn.length > 0) argv.push("-w", opts.dependsOn.map((id) => `ended(${id})`).join(" && "));
  argv.push("<", scriptPath);
  return argv;
}

/** `Job <123> is submitted to queue <normal>.` (or `to default queue <...>`) -> `123`. */
export function parseLsfJobId(stdout: string): string {
  for (const line of lines(stdout).reverse()) {
    const m = /^Job <(\d+)> is submitted/.exec(line);
    if (m) return m[1] as string;
  }
  throw new CstError("SCHEDULER", "bsub printed no job id", {
    details: [`stdout: ${JSON.stringify(stdout.slice(0, 500))}`],
    hint: "run the bsub command from the submission record by hand to see what it says",
  });
}

/**
 * bkill arguments for cst-batch element ids: `123_3` (array index 3, as status names elements) is
 * LSF's `123[4]`; elements of one job are listed as one index list (`123[2-4,7]`); a plain id
 * (`123`, a whole job) is kept.
 */
export function lsfCancelArgv(ids: string[]): string[] {
  const whole: string[] = [];
  const byJob = new Map<string, number[]>();
  for (const id of ids) {
    const m = /^(\d+)_(\d+)$/.exec(id);
    if (!m) {
      whole.push(id);
      continue;
    }
    byJob.set(m[1]!, [...(byJob.get(m[1]!) ?? []), Number(m[2]) + 1]);
  }
  const lists = [...byJob].map(([job, idx]) => `${job}[${indexRanges(idx)}]`);
  return ["bkill", ...whole, ...lists];
}

/** `[2, 3, 4, 7]` -> `2-4,7` (sorted, duplicates dropped). */
export function indexRanges(indices: number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

export const lsfBackend: SchedulerBackend = {
  name: "lsf",
  peakSource: "bjobs",
  submitCommand: "bsub",
  renderArrayScript: (ctx: ArrayScriptContext, opts: RenderOptions = {}) => renderTemplate("lsf/array.sh.hbs", lsfArrayView(ctx), opts.templateDir),
  renderCollectScript: (ctx: CollectScriptContext, opts: RenderOptions = {}) => renderTemplate("lsf/collect.sh.hbs", lsfCollectView(ctx), opts.templateDir),
  submitArgv: lsfSubmitArgv,
  parseJobId: parseLsfJobId,
  statusQueryArgv: lsfStatusArgv,
  parseStatus: (stdout: string) => parseBjobs(stdout),
  cancelArgv: lsfCancelArgv,
  // bkill: "Job <12[3]> is being terminated"; ended or unknown (exit 255): "Job <12[3]>: Job has already finished", "Job <12>: No matching job found".
  cancelAnswer: /^Job <[^>]+>( is being (terminated|signaled)|: (Job has already finished|No matching job found))$/,
};
