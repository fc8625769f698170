import { Option, type Command } from "commander";
import { CONTAINER_RUNTIMES, withCompletion } from "./completion-values.js";
import type { SubmitFlagValues } from "../submit/settings.js";

/**
 * The batch-scheduler flags of `submit`: resources, array shape, script content, profile.
 * Every value is validated (units normalised) by `resolveSubmitSettings` before anything is
 * submitted; flags override the profile, which overrides the built-in defaults.
 */

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function addSchedulerFlags(command: Command): Command {
  const res = "batch scheduler resources (per array task; override the profile):";
  const arr = "array jobs:";
  const scr = "job scripts:";
  command
    .addOption(new Option("--time <duration>", "walltime per array task: 2h, 90m, 1h30m, 01:30:00, 1-00:00:00 (a bare number is rejected). Covers --chunk-size subjects. Without it: chunk-size x (timeout + grace + 15 s) + warning window").helpGroup(res))
    .addOption(new Option("--mem <size>", "memory per task: 8G, 500M, 16GB (default 8G)").helpGroup(res))
    .addOption(new Option("--cpus <n>", "CPUs per task (default 1)").helpGroup(res))
    .addOption(new Option("--partition <name>", "Slurm partition / PBS or LSF queue").helpGroup(res))
    .addOption(new Option("--queue <name>", "same as --partition").helpGroup(res))
    .addOption(new Option("--account <name>", "account / project to charge (LSF: -P)").helpGroup(res))
    .addOption(new Option("--qos <name>", "Slurm QOS (not on PBS)").helpGroup(res))
    .addOption(new Option("--gres <spec>", "Slurm --gres (gpu:1); PBS Pro: gpu:N becomes ngpus=N; LSF: -gpu \"num=N\"").helpGroup(res))
    .addOption(new Option("--collect-time <duration>", "walltime of the collect job (default 15m)").helpGroup(res))
    .addOption(new Option("--collect-mem <size>", "memory of the collect job (default 2G)").helpGroup(res))
    .addOption(new Option("--collect-cpus <n>", "CPUs of the collect job (default 1)").helpGroup(res))
    .addOption(new Option("--array-throttle <n>", "at most N of the study's tasks running at once, over all its arrays and resubmissions in flight (docs/throttle.md)").helpGroup(arr))
    .addOption(new Option("--chunk-size <k>", "subjects per array task, run one after another, each with its own lock, timeout and record (default 1)").helpGroup(arr))
    .addOption(new Option("--max-array-size <n>", "split arrays larger than this into several jobs (default: Slurm's MaxArraySize, PBS 10000, LSF 1000)").helpGroup(arr))
    .addOption(new Option("--job-name <name>", "job name (default cst-batch; collect: <name>-collect)").helpGroup(arr))
    .addOption(new Option("--scheduler-arg <directive>", "raw directive written after #SBATCH / #PBS / #BSUB, e.g. --constraint=avx2; repeatable").argParser(collect).helpGroup(scr))
    .addOption(new Option("--setup <line>", "shell line run before csttool in every job (module load csttool, conda activate cst); repeatable").argParser(collect).helpGroup(scr))
    .addOption(new Option("--container <image>", "run csttool as `<runtime> exec <image> csttool ...` (a .sif path or a docker:// URI)").helpGroup(scr))
    .addOption(withCompletion(new Option("--container-runtime <name>", "apptainer (default) or singularity"), CONTAINER_RUNTIMES).helpGroup(scr))
    .addOption(new Option("--template-dir <dir>", "folder with your copies of the job script templates (see templates/README.md)").helpGroup(scr))
    .addOption(new Option("--profile <file>", "cluster profile JSON (default: $XDG_CONFIG_HOME/cst-batch/profile.json or ~/.config/cst-batch/profile.json when present)").helpGroup(scr))
    .addOption(new Option("--no-profile", "do not read the default profile").helpGroup(scr));
  return command;
}

/** Names of the flags above that only mean something for a batch scheduler. */
export const BATCH_ONLY_FLAGS: ReadonlyArray<[keyof SubmitFlagValues, string]> = [
  ["time", "--time"],
  ["mem", "--mem"],
  ["cpus", "--cpus"],
  ["partition", "--partition"],
  ["queue", "--queue"],
  ["account", "--account"],
  ["qos", "--qos"],
  ["gres", "--gres"],
  ["arrayThrottle", "--array-throttle"],
  ["chunkSize", "--chunk-size"],
  ["maxArraySize", "--max-array-size"],
  ["jobName", "--job-name"],
  ["schedulerArg", "--scheduler-arg"],
  ["setup", "--setup"],
  ["container", "--container"],
  ["containerRuntime", "--container-runtime"],
  ["collectTime", "--collect-time"],
  ["collectMem", "--collect-mem"],
  ["collectCpus", "--collect-cpus"],
  ["templateDir", "--template-dir"],
];

/** The scheduler flags from commander's parsed options (strings; validated later). */
export function schedulerFlagValues(opts: Record<string, unknown>): SubmitFlagValues {
  const values: SubmitFlagValues = {};
  for (const [key] of BATCH_ONLY_FLAGS) {
    const v = opts[key];
    if (v === undefined) continue;
    (values as Record<string, unknown>)[key] = Array.isArray(v) ? v.map(String) : String(v);
  }
  return values;
}
