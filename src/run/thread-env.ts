/**
 * Thread limits for csttool's numerical libraries. numpy's BLAS (OpenBLAS / MKL), OpenMP code in
 * dipy, numexpr and Apple's Accelerate each start one thread per core by default, so two subjects
 * on two cores would run 2 x 2+ threads and slow each other down. run-one sets the variables below
 * to the CPUs the task owns, unless the user (or the scheduler) already set them.
 */

/** The variables the thread pools read (OpenMP, OpenBLAS, MKL, numexpr, BLIS, Accelerate). */
export const THREAD_ENV_VARS = [
  "OMP_NUM_THREADS",
  "OPENBLAS_NUM_THREADS",
  "MKL_NUM_THREADS",
  "NUMEXPR_NUM_THREADS",
  "NUMEXPR_MAX_THREADS",
  "BLIS_NUM_THREADS",
  "VECLIB_MAXIMUM_THREADS",
] as const;

/** Where a task's CPU count came from. */
export type CpuSource = "option" | "SLURM_CPUS_PER_TASK" | "NCPUS" | "PBS_NUM_PPN" | "LSB_DJOB_NUMPROC" | "NSLOTS" | "local-share";

export interface TaskCpus {
  cpus: number;
  source: CpuSource;
}

function positiveInt(value: string | undefined): number | null {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return null;
  const n = Number(value);
  return n >= 1 ? n : null;
}

/**
 * The CPUs this task owns: an explicit count (run-one's option; local mode passes cores ÷ jobs),
 * else the scheduler's (`SLURM_CPUS_PER_TASK`, PBS Pro's `NCPUS`, Torque's `PBS_NUM_PPN`, LSF's
 * `LSB_DJOB_NUMPROC` = the slots of `-n`, Grid Engine's `NSLOTS` = the slots of `-pe NAME N`, 1
 * without a parallel environment); null when none is known (then nothing is set).
 */
export function taskCpus(env: NodeJS.ProcessEnv, explicit: number | null | undefined, explicitSource: CpuSource = "option"): TaskCpus | null {
  if (explicit !== null && explicit !== undefined && Number.isInteger(explicit) && explicit >= 1) return { cpus: explicit, source: explicitSource };
  for (const name of ["SLURM_CPUS_PER_TASK", "NCPUS", "PBS_NUM_PPN", "LSB_DJOB_NUMPROC", "NSLOTS"] as const) {
    const n = positiveInt(env[name]);
    if (n !== null) return { cpus: n, source: name };
  }
  return null;
}

export interface ThreadEnv {
  env: NodeJS.ProcessEnv;
  /** The variables set here (those the user had set are left as they were). */
  set: string[];
  /** The variables already set by the user or the scheduler, left alone. */
  kept: string[];
}

/** `env` with each thread variable set to `cpus`, except those already set (non-empty). */
export function withThreadLimits(env: NodeJS.ProcessEnv, cpus: TaskCpus | null): ThreadEnv {
  if (cpus === null) return { env, set: [], kept: [] };
  const next: NodeJS.ProcessEnv = { ...env };
  const set: string[] = [];
  const kept: string[] = [];
  for (const name of THREAD_ENV_VARS) {
    const current = env[name];
    if (current !== undefined && current.trim() !== "") {
      kept.push(name);
      continue;
    }
    next[name] = String(cpus.cpus);
    set.push(name);
  }
  return { env: next, set, kept };
}

/** One log line saying what run-one did about threads. */
export function describeThreadEnv(cpus: TaskCpus | null, t: ThreadEnv): string {
  if (cpus === null) return "threads: no CPU count known for this task (no --cpus, SLURM_CPUS_PER_TASK, NCPUS, PBS_NUM_PPN, LSB_DJOB_NUMPROC or NSLOTS): thread variables left as they are";
  const kept = t.kept.length > 0 ? `; kept as set: ${t.kept.join(", ")}` : "";
  return `threads: ${cpus.cpus} CPU(s) (${cpus.source}): ${t.set.length > 0 ? `set ${t.set.join(", ")}=${cpus.cpus}` : "nothing set"}${kept}`;
}
