import path from "node:path";

/**
 * The file a scheduler wrote an array element's stdout to, from the folder and job name the
 * submission recorded (`resources.log_dir`, `resources.job_name`) and the element's id. This is
 * where a task that died without a record of its own (killed before run-one could write one, or
 * cst-batch itself could not start) left its last words, not `logs/<key>.log`.
 *
 *   Slurm   `#SBATCH --output=<log_dir>/array_%A_%a.out`     -> `array_12_3.out`
 *   PBS Pro `#PBS -o <log_dir>/` names it `<job_name>.o<seq>.<index>` (`<job_name>.o<seq>` for a job that is not an array)
 *   Torque  `#PBS -o <log_dir>/` names it `<job_name>.o<seq>-<index>`
 *   LSF     `#BSUB -o <log_dir>/array_%J_%I.out`, %I = LSB_JOBINDEX = array index + 1 -> `array_123_4.out` for `123_3`
 * Null when the submission did not record a log folder (or the scheduler is not one of these).
 */
export function schedulerOutputFile(submission: { scheduler: string; resources: Record<string, unknown> }, elementId: string): string | null {
  const dir = submission.resources["log_dir"];
  if (typeof dir !== "string" || dir === "") return null;
  const jobName = typeof submission.resources["job_name"] === "string" ? (submission.resources["job_name"] as string) : null;
  switch (submission.scheduler) {
    case "slurm": {
      const m = /^(\d+)_(\d+)$/.exec(elementId);
      return path.join(dir, m ? `array_${m[1]}_${m[2]}.out` : `array_${elementId}.out`);
    }
    case "pbs":
    case "torque": {
      if (!jobName) return null;
      const m = /^(\d+)\[(\d+)\]/.exec(elementId);
      const seq = m ? m[1] : /^(\d+)/.exec(elementId)?.[1];
      if (!seq) return null;
      if (!m) return path.join(dir, `${jobName}.o${seq}`);
      return path.join(dir, submission.scheduler === "pbs" ? `${jobName}.o${seq}.${m[2]}` : `${jobName}.o${seq}-${m[2]}`);
    }
    case "sge": {
      // `#$ -o <log_dir>/` names it `<job_name>.o<job>.<task>`, task = array index + 1 (`<job_name>.o<job>` for a plain job)
      if (!jobName) return null;
      const m = /^(\d+)_(\d+)$/.exec(elementId);
      if (m) return path.join(dir, `${jobName}.o${m[1]}.${Number(m[2]) + 1}`);
      return /^\d+$/.test(elementId) ? path.join(dir, `${jobName}.o${elementId}`) : null;
    }
    case "lsf": {
      const m = /^(\d+)_(\d+)$/.exec(elementId);
      return m ? path.join(dir, `array_${m[1]}_${Number(m[2]) + 1}.out`) : null;
    }
    default:
      return null;
  }
}
