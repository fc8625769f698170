import { pbsProBackend } from "./pbs-pro.js";
import { slurmBackend } from "./slurm.js";
import { torqueBackend } from "./torque.js";
import { sgeBackend } from "./sge.js";
import { lsfBackend } from "./lsf.js";
import type { SchedulerBackend, SchedulerName } from "./types.js";

export * from "./types.js";
export { shellQuote, assertDirectiveValue, assertBareDirectiveValue, assertSingleLine } from "../shell/shell-quote.js";
export { parseDuration, formatSlurmDuration, formatPbsDuration } from "./duration.js";
export { parseMemory, formatSlurmMemory, formatPbsMemory } from "./memory.js";
export { runSchedulerCommand, type CommandOutcome, type RunCommandOptions } from "./runner.js";
export { resolveMaxArraySize, parseMaxArraySize, shardChunks, type Shard } from "./max-array-size.js";
export { detectScheduler, classifyQstatVersion, type DetectedScheduler } from "./detect.js";
export { PACKAGED_TEMPLATE_DIR, renderTemplate, clearTemplateCache } from "./render.js";
export { slurmBackend, pbsProBackend, torqueBackend };
export { sgeBackend };
export { lsfBackend };
export { parseBjobs, lsfStatusArgv, BJOBS_FIELDS } from "./lsf-status.js";

const BACKENDS: Record<SchedulerName, SchedulerBackend> = {
  slurm: slurmBackend,
  pbs: pbsProBackend,
  torque: torqueBackend,
  sge: sgeBackend,
  lsf: lsfBackend,
};

/** The backend for a scheduler name. */
export function getBackend(name: SchedulerName): SchedulerBackend {
  return BACKENDS[name];
}
