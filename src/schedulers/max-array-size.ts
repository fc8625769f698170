import { CstError } from "../errors.js";
import { runSchedulerCommand, type RunCommandOptions } from "./runner.js";
import type { SchedulerName } from "./types.js";

/** PBS Pro's default `max_array_size`; Torque's `max_job_array_size` has no fixed default, use the same. */
export const PBS_DEFAULT_MAX_ARRAY_SIZE = 10_000;
/** LSF's default `MAX_JOB_ARRAY_SIZE` (lsb.params): indices 1..1000. */
export const LSF_DEFAULT_MAX_ARRAY_SIZE = 1_000;
/** Grid Engine's default `max_aj_tasks` (sge_conf(5)): tasks per array job. */
export const SGE_DEFAULT_MAX_ARRAY_SIZE = 75_000;
/** Slurm's default `MaxArraySize` (when the cluster cannot be asked). */
export const SLURM_DEFAULT_MAX_ARRAY_SIZE = 1_001;

/** `MaxArraySize = 10001` from `scontrol show config`; null when the line is missing. */
export function parseMaxArraySize(scontrolShowConfig: string): number | null {
  const m = /^\s*MaxArraySize\s*=\s*(\d+)\s*$/m.exec(scontrolShowConfig);
  return m ? Number(m[1]) : null;
}

/** `max_aj_tasks 75000` from Grid Engine's `qconf -sconf`; 0 (no limit) and a missing line are null. */
export function parseSgeMaxAjTasks(qconfSconf: string): number | null {
  const m = /^\s*max_aj_tasks\s+(\d+)\s*$/m.exec(qconfSconf);
  return m && Number(m[1]) > 0 ? Number(m[1]) : null;
}

export type MaxArraySizeSource = "override" | "scontrol" | "qconf" | "default";

/**
 * The largest array a job may have: `override` when given (`--max-array-size`), else Slurm's
 * configured MaxArraySize (array indices must stay below it), Grid Engine's max_aj_tasks (`qconf
 * -sconf`), else the documented default.
 */
export async function resolveMaxArraySize(
  scheduler: SchedulerName,
  override: number | null,
  opts: RunCommandOptions = {},
): Promise<{ value: number; source: MaxArraySizeSource; note: string | null }> {
  if (override !== null) {
    if (!Number.isSafeInteger(override) || override < 1) {
      throw new CstError("USAGE", `--max-array-size must be a whole number above zero, found ${override}`);
    }
    if (scheduler === "slurm") {
      // sbatch rejects an index at or above the site's MaxArraySize with no word of the limit: say it first.
      const site = await runSchedulerCommand(["scontrol", "show", "config"], opts);
      const limit = site.kind === "ok" ? parseMaxArraySize(site.stdout) : null;
      if (limit !== null && override > limit) {
        throw new CstError("USAGE", `--max-array-size ${override} is above this cluster's MaxArraySize = ${limit} (scontrol show config): Slurm rejects array indices of ${limit} and more`, {
          hint: `give --max-array-size ${limit} or less, or leave it out: cst-batch reads MaxArraySize and splits larger cohorts into several arrays`,
        });
      }
    }
    return { value: override, source: "override", note: null };
  }
  if (scheduler === "lsf") return { value: LSF_DEFAULT_MAX_ARRAY_SIZE, source: "default", note: null };
  if (scheduler === "sge") {
    // qsub rejects an array of more tasks than the global configuration's max_aj_tasks: read it.
    const conf = await runSchedulerCommand(["qconf", "-sconf"], opts);
    const v = conf.kind === "ok" ? parseSgeMaxAjTasks(conf.stdout) : null;
    if (v !== null) return { value: v, source: "qconf", note: null };
    // max_aj_tasks 0 = no limit: the default still keeps each array a reasonable size.
    const note = conf.kind === "ok" ? null : `could not read max_aj_tasks from 'qconf -sconf' (${conf.kind}); using Grid Engine's default ${SGE_DEFAULT_MAX_ARRAY_SIZE} (give --max-array-size for your site's)`;
    return { value: SGE_DEFAULT_MAX_ARRAY_SIZE, source: "default", note };
  }
  if (scheduler !== "slurm") return { value: PBS_DEFAULT_MAX_ARRAY_SIZE, source: "default", note: null };
  const outcome = await runSchedulerCommand(["scontrol", "show", "config"], opts);
  if (outcome.kind === "ok") {
    const v = parseMaxArraySize(outcome.stdout);
    if (v !== null && v >= 1) return { value: v, source: "scontrol", note: null };
  }
  return {
    value: SLURM_DEFAULT_MAX_ARRAY_SIZE,
    source: "default",
    note: `could not read MaxArraySize from 'scontrol show config' (${outcome.kind}); using Slurm's default ${SLURM_DEFAULT_MAX_ARRAY_SIZE}`,
  };
}

export interface Shard {
  first_chunk: number;
  count: number;
}

/**
 * Split `nChunks` chunks into arrays of at most `maxArraySize` elements, indices 0..count-1 each
 * (so the largest index, count-1, stays <= maxArraySize-1 as Slurm requires). Element k of shard s
 * runs chunk `first_chunk + k`.
 */
export function shardChunks(nChunks: number, maxArraySize: number): Shard[] {
  if (!Number.isSafeInteger(nChunks) || nChunks < 0) throw new CstError("USAGE", `chunk count must be >= 0, found ${nChunks}`);
  if (!Number.isSafeInteger(maxArraySize) || maxArraySize < 1) {
    throw new CstError("USAGE", `max array size must be a whole number above zero, found ${maxArraySize}`);
  }
  const shards: Shard[] = [];
  for (let first = 0; first < nChunks; first += maxArraySize) {
    shards.push({ first_chunk: first, count: Math.min(maxArraySize, nChunks - first) });
  }
  return shards;
}
