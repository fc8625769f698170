import { CstError } from "../errors.js";
import type { Submission } from "../schemas/study-records.js";
import type { SubmitSettings } from "../submit/settings.js";
import { LSF_UNITS, type LsfUnit } from "../schedulers/types.js";

/** Resource settings of an earlier submission, as `submit` recorded them in `resources`. */
export interface BaseResources {
  settings: SubmitSettings;
  /** The per-subject timeout the earlier submit used, when it was given explicitly (else derived from the walltime). */
  explicitTimeoutMinutes: number | null;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}
function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
function lsfUnit(v: unknown): LsfUnit | null {
  return (LSF_UNITS as readonly unknown[]).includes(v) ? (v as LsfUnit) : null;
}
function obj(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Read `submission.resources` back into submit settings; throws when the record lacks the array resources. */
export function baseResourcesOf(submission: Submission): BaseResources {
  const r = submission.resources;
  const a = obj(r.array);
  const c = obj(r.collect);
  const time = num(a.time_seconds);
  const mem = num(a.mem_mib);
  if (time === null || mem === null) {
    throw new CstError("USAGE", `the submission record ${submission.submission_id} holds no array resources (time_seconds, mem_mib)`, {
      hint: "give --time and --mem to resubmit, or use `cst-batch submit`",
    });
  }
  const container = obj(r.container);
  const image = str(container.image);
  const runtime = container.runtime === "singularity" ? "singularity" : "apptainer";
  const jobName = str(r.job_name) ?? "cst-batch";
  const settings: SubmitSettings = {
    array: { timeSeconds: time, memMiB: mem, cpus: num(a.cpus) ?? 1, partition: str(a.partition), account: str(a.account), qos: str(a.qos), gres: str(a.gres), memoryResource: str(a.sge_memory_resource), parallelEnvironment: str(a.sge_pe) },
    collect: {
      timeSeconds: num(c.time_seconds) ?? 900,
      memMiB: num(c.mem_mib) ?? 2048,
      cpus: num(c.cpus) ?? 1,
      partition: str(c.partition),
      account: str(c.account),
      qos: str(c.qos),
      gres: str(c.gres),
      memoryResource: str(c.sge_memory_resource),
      parallelEnvironment: str(c.sge_pe),
    },
    throttle: num(r.array_throttle),
    maxArraySize: num(r.max_array_size),
    chunkSize: num(r.chunk_size) ?? 1,
    jobName,
    collectJobName: `${jobName}-collect`,
    schedulerArgs: strList(r.scheduler_args),
    setupLines: strList(r.setup),
    container: image ? { image, runtime } : null,
    templateDir: str(r.template_dir),
    lsfUnitForLimits: lsfUnit(r.lsf_unit_for_limits),
    sources: {},
    warnings: [],
  };
  const explicit = r.timeout_source === "explicit" || r.timeout_source === "plan" ? num(r.timeout_minutes) : null;
  return { settings, explicitTimeoutMinutes: explicit };
}

/** Round seconds up to whole minutes (schedulers take minutes), MiB up to whole MiB. */
export function scaleTime(seconds: number, factor: number): number {
  return Math.ceil((seconds * factor) / 60) * 60;
}
export function scaleMem(mib: number, factor: number): number {
  return Math.ceil(mib * factor);
}
