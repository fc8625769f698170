import { CstError } from "../errors.js";
import { pbsLimitCodes } from "../failures/scheduler-states.js";
import { validateArrayContext, validateBaseContext } from "./context.js";
import {
  PBS_CANCEL_ANSWER,
  assertPbsDirectiveValues,
  parsePbsJobId,
  parseQstatStates,
  pbsArrayRunView,
  pbsCommonView,
  pbsSubmitArgv,
} from "./pbs-common.js";
import { renderTemplate } from "./render.js";
import { assertBareDirectiveValue } from "../shell/shell-quote.js";
import type {
  ArrayScriptContext,
  CollectScriptContext,
  RenderOptions,
  SchedulerBackend,
  SchedulerJobState,
  TaskSchedulerState,
} from "./types.js";

/**
 * PBS Pro (and OpenPBS) `select` chunk: `1:ncpus=N:mem=Xmb`, plus `:ngpus=K` for `--gres gpu:K`.
 * Other gres forms have no PBS Pro meaning: rejected (pass `--scheduler-arg` instead).
 */
export function pbsProSelect(ctx: ArrayScriptContext | CollectScriptContext, mem: string): string {
  let select = `1:ncpus=${ctx.resources.cpus}:mem=${mem}`;
  const gres = ctx.resources.gres;
  if (gres !== null) {
    const m = /^gpu(?::[A-Za-z0-9_-]+)?:(\d+)$/.exec(gres);
    if (!m) {
      throw new CstError("USAGE", `--gres ${JSON.stringify(gres)} has no PBS Pro equivalent`, {
        details: ["expected: gpu:N (becomes ngpus=N in the select statement)"],
        hint: "request other resources with --scheduler-arg '-l select=...' and leave --gres out",
      });
    }
    select += `:ngpus=${m[1]}`;
  }
  return select;
}

function rejectUnsupported(ctx: ArrayScriptContext | CollectScriptContext): void {
  if (ctx.resources.qos !== null) {
    throw new CstError("USAGE", "--qos is a Slurm option; PBS Pro has no QOS", {
      hint: "leave --qos out, or pass a site-specific -l resource with --scheduler-arg",
    });
  }
}

/**
 * The view for `pbs/array.sh.hbs`. PBS Pro refuses a one-element array (`-J 0-0`), so a single
 * chunk is submitted as a plain job (`isArray` false) whose index is fixed at 0; its job id then
 * has no `[]` and status reports it with arrayIndex null.
 * A throttle is written as `-J 0-N%T` (max_run_subjobs, PBS Pro 2020.1 / OpenPBS 20 and later).
 */
export function pbsProArrayView(ctx: ArrayScriptContext): Record<string, unknown> {
  validateArrayContext(ctx);
  rejectUnsupported(ctx);
  assertPbsDirectiveValues(ctx);
  const common = pbsCommonView(ctx);
  const select = pbsProSelect(ctx, common.mem as string);
  assertBareDirectiveValue(select, "select statement");
  const isArray = ctx.arraySize > 1;
  return {
    ...common,
    ...pbsArrayRunView(ctx),
    select,
    isArray,
    arraySpec: `0-${ctx.arraySize - 1}${ctx.throttle !== null ? `%${ctx.throttle}` : ""}`,
  };
}

export function pbsProCollectView(ctx: CollectScriptContext): Record<string, unknown> {
  validateBaseContext(ctx);
  rejectUnsupported(ctx);
  assertPbsDirectiveValues(ctx);
  const common = pbsCommonView(ctx);
  return { ...common, select: pbsProSelect(ctx, common.mem as string) };
}

/** PBS Pro job states: https://help.altair.com (Reference Guide, "Job States"). */
export function mapPbsProState(code: string): SchedulerJobState {
  switch (code) {
    case "Q":
    case "H":
    case "W":
    case "T":
    case "M":
    case "S":
    case "U":
      return "pending";
    case "R":
    case "E":
    case "B":
      return "running";
    case "X":
    case "F":
      return "completed";
    default:
      return "unknown";
  }
}

/** PBS Pro exit statuses for jobs killed at a limit (JOB_EXEC_KILL_WALLTIME / _MEM / _VMEM). */
const PBS_PRO_LIMIT_CODES = pbsLimitCodes("pbsPro");

/** `qstat -f -x -t IDS`: full text, finished jobs included (-x), array subjobs expanded (-t). */
export function pbsProStatusArgv(jobIds: string[]): string[] {
  return ["qstat", "-f", "-x", "-t", ...jobIds];
}

/** Parse `qstat -f -x -t` text. Array parents (`48[].server`) are skipped; their subjobs are listed. */
export function parsePbsProQstat(stdout: string): TaskSchedulerState[] {
  return parseQstatStates(stdout, { mapState: mapPbsProState, exitKey: "Exit_status", limitCodes: PBS_PRO_LIMIT_CODES });
}

export const pbsProBackend: SchedulerBackend = {
  name: "pbs",
  peakSource: "qstat",
  submitCommand: "qsub",
  renderArrayScript: (ctx: ArrayScriptContext, opts: RenderOptions = {}) =>
    renderTemplate("pbs/array.sh.hbs", pbsProArrayView(ctx), opts.templateDir),
  renderCollectScript: (ctx: CollectScriptContext, opts: RenderOptions = {}) =>
    renderTemplate("pbs/collect.sh.hbs", pbsProCollectView(ctx), opts.templateDir),
  // PBS Pro: `afterany` accepts array ids (`48[].server`) as well as plain ones.
  submitArgv: (scriptPath, opts = {}) => pbsSubmitArgv(scriptPath, opts.dependsOn, "afterany"),
  parseJobId: (stdout) => parsePbsJobId(stdout),
  statusQueryArgv: pbsProStatusArgv,
  parseStatus: parsePbsProQstat,
  cancelArgv: (jobIds: string[]) => ["qdel", ...jobIds],
  cancelAnswer: PBS_CANCEL_ANSWER,
};
