import { existsSync } from "node:fs";
import path from "node:path";
import { CstError } from "../errors.js";
import type { Profile } from "../profile/profile.js";
import { parseDuration } from "../schedulers/duration.js";
import { parseMemory } from "../schedulers/memory.js";
import type { ContainerRuntime, LsfUnit, ResourceRequest } from "../schedulers/types.js";

/** Raw submit settings as given on the command line (strings, unvalidated; undefined = not given). */
export interface SubmitFlagValues {
  time?: string;
  mem?: string;
  cpus?: string;
  partition?: string;
  queue?: string;
  account?: string;
  qos?: string;
  gres?: string;
  arrayThrottle?: string;
  maxArraySize?: string;
  chunkSize?: string;
  jobName?: string;
  schedulerArg?: string[];
  setup?: string[];
  container?: string;
  containerRuntime?: string;
  collectTime?: string;
  collectMem?: string;
  collectCpus?: string;
  templateDir?: string;
}

/** Built-in defaults, below the profile and the flags. */
export const SUBMIT_DEFAULTS = {
  mem: "8G",
  cpus: 1,
  chunkSize: 1,
  jobName: "cst-batch",
  containerRuntime: "apptainer" as ContainerRuntime,
  collect: { time: "15m", mem: "2G", cpus: 1 },
} as const;

export type SettingSource = "flag" | "profile" | "default";

/** Validated, unit-normalised submit settings. */
export interface SubmitSettings {
  /** Array task resources; `timeSeconds` is null until the timing is resolved (no --time given). */
  array: Omit<ResourceRequest, "timeSeconds"> & { timeSeconds: number | null };
  collect: ResourceRequest;
  throttle: number | null;
  maxArraySize: number | null;
  chunkSize: number;
  jobName: string;
  collectJobName: string;
  schedulerArgs: string[];
  setupLines: string[];
  container: { image: string; runtime: ContainerRuntime } | null;
  templateDir: string | null;
  /** LSF: the site's LSF_UNIT_FOR_LIMITS (profile `lsf_unit_for_limits`); null/absent = LSF's defaults. */
  lsfUnitForLimits?: LsfUnit | null;
  /** Where each setting came from (for the dry-run / record). */
  sources: Record<string, SettingSource>;
  warnings: string[];
}

function positiveInt(flag: string, value: string | number): number {
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new CstError("USAGE", `${flag} must be a whole number >= 1, found ${JSON.stringify(String(value))}`);
  }
  return Number(text);
}

function nonEmpty(flag: string, value: string): string {
  if (value.trim() === "") throw new CstError("USAGE", `${flag} is empty`, { hint: `omit ${flag} or give a value` });
  return value;
}

/**
 * Merge flags over the profile over the defaults, and validate every value (units normalised:
 * seconds, MiB) before anything is rendered or submitted. Lists (setup lines, scheduler args)
 * from a flag replace the profile's list.
 */
export function resolveSubmitSettings(flags: SubmitFlagValues, profile: Profile, opts: { cwd?: string } = {}): SubmitSettings {
  const cwd = opts.cwd ?? process.cwd();
  const sources: Record<string, SettingSource> = {};
  const warnings: string[] = [];
  const pick = <T>(key: string, flag: T | undefined, prof: T | undefined, dflt: T): T => {
    if (flag !== undefined) {
      sources[key] = "flag";
      return flag;
    }
    if (prof !== undefined) {
      sources[key] = "profile";
      return prof;
    }
    sources[key] = "default";
    return dflt;
  };
  const label = (key: string, flag: string): string => (sources[key] === "profile" ? `profile "${key}"` : flag);

  if (flags.partition !== undefined && flags.queue !== undefined) {
    throw new CstError("USAGE", "give --partition or --queue, not both (they are the same setting)");
  }
  const timeText = pick<string | null>("time", flags.time, profile.time, null);
  const timeSeconds = timeText === null ? null : parseDuration(timeText, label("time", "--time"));
  const memText = pick("mem", flags.mem, profile.mem, SUBMIT_DEFAULTS.mem);
  const memMiB = parseMemory(memText, label("mem", "--mem"));
  const cpus = positiveInt(label("cpus", "--cpus"), pick<string | number>("cpus", flags.cpus, profile.cpus, SUBMIT_DEFAULTS.cpus));
  const partition = pick<string | null>("partition", flags.partition ?? flags.queue, profile.partition ?? profile.queue, null);
  const account = pick<string | null>("account", flags.account, profile.account, null);
  const qos = pick<string | null>("qos", flags.qos, profile.qos, null);
  const gres = pick<string | null>("gres", flags.gres, profile.gres, null);
  for (const [key, flag, v] of [
    ["partition", "--partition", partition],
    ["account", "--account", account],
    ["qos", "--qos", qos],
    ["gres", "--gres", gres],
  ] as const) {
    if (v !== null) nonEmpty(label(key, flag), v);
  }

  const throttleRaw = pick<string | number | null>("array_throttle", flags.arrayThrottle, profile.array_throttle, null);
  const throttle = throttleRaw === null ? null : positiveInt(label("array_throttle", "--array-throttle"), throttleRaw);
  const maxRaw = pick<string | number | null>("max_array_size", flags.maxArraySize, profile.max_array_size, null);
  const maxArraySize = maxRaw === null ? null : positiveInt(label("max_array_size", "--max-array-size"), maxRaw);
  const chunkSize = positiveInt(label("chunk_size", "--chunk-size"), pick<string | number>("chunk_size", flags.chunkSize, profile.chunk_size, SUBMIT_DEFAULTS.chunkSize));
  const jobName = nonEmpty(label("job_name", "--job-name"), pick("job_name", flags.jobName, profile.job_name, SUBMIT_DEFAULTS.jobName));

  const schedulerArgs = pick<string[]>("scheduler_args", flags.schedulerArg, profile.scheduler_args, []);
  const setupLines = pick<string[]>("setup", flags.setup, profile.setup, []);
  for (const a of schedulerArgs) {
    if (/[\r\n]/.test(a)) throw new CstError("USAGE", `--scheduler-arg ${JSON.stringify(a)} holds a line break; give one directive per flag`);
    if (a.trim() === "") throw new CstError("USAGE", "--scheduler-arg is empty");
  }
  for (const l of setupLines) {
    if (/[\r\n]/.test(l)) throw new CstError("USAGE", `--setup ${JSON.stringify(l)} holds a line break; give one line per flag`);
  }

  const image = pick<string | null>("container", flags.container, profile.container, null);
  const runtimeRaw = pick<string>("container_runtime", flags.containerRuntime, profile.container_runtime, SUBMIT_DEFAULTS.containerRuntime);
  if (runtimeRaw !== "apptainer" && runtimeRaw !== "singularity") {
    throw new CstError("USAGE", `--container-runtime must be apptainer or singularity, found ${JSON.stringify(runtimeRaw)}`);
  }
  let container: SubmitSettings["container"] = null;
  if (image !== null) {
    nonEmpty("--container", image);
    // A URI (docker://, library://, oras://) is passed as is; a file path is made absolute (jobs start elsewhere).
    const isUri = /^[a-z][a-z0-9+.-]*:\/\//i.test(image);
    const resolved = isUri ? image : path.resolve(cwd, image);
    if (!isUri && !existsSync(resolved)) warnings.push(`--container ${resolved} does not exist on this host (it must exist on the compute nodes)`);
    container = { image: resolved, runtime: runtimeRaw };
  } else if (sources.container_runtime === "flag") {
    throw new CstError("USAGE", "--container-runtime needs --container IMAGE");
  }

  const templateRaw = pick<string | null>("template_dir", flags.templateDir, profile.template_dir, null);
  const templateDir = templateRaw === null ? null : path.resolve(cwd, templateRaw);
  if (templateDir !== null && !existsSync(templateDir)) {
    throw new CstError("USAGE", `--template-dir ${templateDir} does not exist`, { hint: "copy the templates you want to change there (see templates/README.md)" });
  }

  // Grid Engine only (profile keys): how memory and --cpus are requested there.
  const sge = { memoryResource: profile.sge_memory_resource ?? null, parallelEnvironment: profile.sge_pe ?? null };
  const pc = profile.collect ?? {};
  const collectTime = parseDuration(pick("collect.time", flags.collectTime, pc.time, SUBMIT_DEFAULTS.collect.time), "--collect-time");
  const collectMem = parseMemory(pick("collect.mem", flags.collectMem, pc.mem, SUBMIT_DEFAULTS.collect.mem), "--collect-mem");
  const collectCpus = positiveInt("--collect-cpus", pick<string | number>("collect.cpus", flags.collectCpus, pc.cpus, SUBMIT_DEFAULTS.collect.cpus));

  return {
    array: { timeSeconds, memMiB, cpus, partition, account, qos, gres, ...sge },
    collect: {
      timeSeconds: collectTime,
      memMiB: collectMem,
      cpus: collectCpus,
      partition: pc.partition ?? partition,
      account: pc.account ?? account,
      qos: pc.qos ?? qos,
      gres: pc.gres ?? null,
      ...sge,
    },
    throttle,
    maxArraySize,
    chunkSize,
    jobName,
    collectJobName: `${jobName}-collect`,
    schedulerArgs,
    setupLines,
    container,
    templateDir,
    lsfUnitForLimits: pick<LsfUnit | null>("lsf_unit_for_limits", undefined, profile.lsf_unit_for_limits, null),
    sources,
    warnings,
  };
}
