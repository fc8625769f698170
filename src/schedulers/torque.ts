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
  SubmitOptions,
  TaskSchedulerState,
} from "./types.js";

function rejectUnsupported(ctx: ArrayScriptContext | CollectScriptContext): void {
  if (ctx.resources.qos !== null) {
    throw new CstError("USAGE", "--qos is a Slurm option; Torque has no QOS", { hint: "leave --qos out" });
  }
  if (ctx.resources.gres !== null) {
    throw new CstError("USAGE", "--gres has no generic Torque equivalent", {
      hint: "request GPUs with --scheduler-arg '-l nodes=1:ppn=N:gpus=K' (site-specific) and leave --gres out",
    });
  }
}

/** Torque `-l nodes=1:ppn=N,mem=Xmb,walltime=HH:MM:SS` in one resource list. */
function torqueResources(common: Record<string, unknown>, cpus: number): string {
  return `nodes=1:ppn=${cpus},mem=${String(common.mem)},walltime=${String(common.walltime)}`;
}

/**
 * The view for `torque/array.sh.hbs`: `#PBS -t 0-N%T` (a single element is `-t 0`, which Torque
 * accepts), index from `PBS_ARRAYID`.
 */
export function torqueArrayView(ctx: ArrayScriptContext): Record<string, unknown> {
  validateArrayContext(ctx);
  rejectUnsupported(ctx);
  assertPbsDirectiveValues(ctx);
  const common = pbsCommonView(ctx);
  const resources = torqueResources(common, ctx.resources.cpus);
  assertBareDirectiveValue(resources, "resource list");
  const last = ctx.arraySize - 1;
  return {
    ...common,
    ...pbsArrayRunView(ctx),
    resourceList: resources,
    arraySpec: last === 0 ? "0" : `0-${last}${ctx.throttle !== null ? `%${ctx.throttle}` : ""}`,
  };
}

export function torqueCollectView(ctx: CollectScriptContext): Record<string, unknown> {
  validateBaseContext(ctx);
  rejectUnsupported(ctx);
  assertPbsDirectiveValues(ctx);
  const common = pbsCommonView(ctx);
  return { ...common, resourceList: torqueResources(common, ctx.resources.cpus) };
}

/** Torque job states (C = completed and kept for `keep_completed` seconds). */
export function mapTorqueState(code: string): SchedulerJobState {
  switch (code) {
    case "Q":
    case "H":
    case "W":
    case "T":
    case "S":
      return "pending";
    case "R":
    case "E":
      return "running";
    case "C":
      return "completed";
    default:
      return "unknown";
  }
}

/** Torque exit statuses for limit kills (JOB_EXEC_OVERLIMIT_WT / _MEM). */
const TORQUE_LIMIT_CODES = pbsLimitCodes("torque");

/**
 * Torque: an array dependency needs `afteranyarray` (plain `afterany` on `48[].server` is
 * rejected); a plain job uses `afterany`.
 */
export function torqueSubmitArgv(scriptPath: string, opts: SubmitOptions = {}): string[] {
  const kind = opts.dependsOnArrays === false ? "afterany" : "afteranyarray";
  return pbsSubmitArgv(scriptPath, opts.dependsOn, kind);
}

/** `qstat -f -t IDS` (Torque's `-x` means XML output, not history: not used). */
export function torqueStatusArgv(jobIds: string[]): string[] {
  return ["qstat", "-f", "-t", ...jobIds];
}

export function parseTorqueQstat(stdout: string): TaskSchedulerState[] {
  return parseQstatStates(stdout, {
    mapState: mapTorqueState,
    exitKey: "exit_status",
    limitCodes: TORQUE_LIMIT_CODES,
    indexFallback: (a) => {
      const id = a.get("job_array_id");
      return id !== undefined && /^\d+$/.test(id) ? Number(id) : null;
    },
  });
}

export const torqueBackend: SchedulerBackend = {
  name: "torque",
  peakSource: "qstat",
  submitCommand: "qsub",
  renderArrayScript: (ctx: ArrayScriptContext, opts: RenderOptions = {}) =>
    renderTemplate("torque/array.sh.hbs", torqueArrayView(ctx), opts.templateDir),
  renderCollectScript: (ctx: CollectScriptContext, opts: RenderOptions = {}) =>
    renderTemplate("torque/collect.sh.hbs", torqueCollectView(ctx), opts.templateDir),
  submitArgv: torqueSubmitArgv,
  parseJobId: (stdout) => parsePbsJobId(stdout),
  statusQueryArgv: torqueStatusArgv,
  parseStatus: parseTorqueQstat,
  cancelArgv: (jobIds: string[]) => ["qdel", ...jobIds],
  cancelAnswer: PBS_CANCEL_ANSWER,
};
