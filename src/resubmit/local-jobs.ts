import { defaultLocalJobs, DEFAULT_MEM_PER_SUBJECT_MIB, describeJobsDefault } from "../local/default-jobs.js";
import { parseMemory } from "../schedulers/memory.js";
import { readStudySettings } from "../study/settings.js";

/**
 * How many subjects a local rerun runs at once. A local run has no memory request to raise, so
 * `--mem-factor F` (for OUT_OF_MEMORY reruns) gives each such subject F times the memory per
 * subject by running fewer at once: min(cores, available ÷ (F × --mem-per-subject)), or
 * `--jobs` ÷ F when --jobs is given.
 */
export interface LocalJobs {
  jobs: number;
  /** One line for the output: how many at once, and why. */
  note: string;
}

const gib = (mib: number): string => `${(mib / 1024).toFixed(1)} GiB`;

export function localJobsFor(memFactor: number | null, jobs: number | null, memPerSubjectMiB: number): LocalJobs {
  const factor = memFactor ?? 1;
  if (jobs !== null) {
    const n = Math.max(1, Math.floor(jobs / factor));
    return { jobs: n, note: factor === 1 ? `${n} at once (--jobs)` : `${n} at once = --jobs ${jobs} ÷ memory factor ${factor} (each subject gets ${factor}x the memory)` };
  }
  const d = defaultLocalJobs(Math.round(memPerSubjectMiB * factor));
  if (factor === 1) return { jobs: d.jobs, note: describeJobsDefault(d) };
  return {
    jobs: d.jobs,
    note: `${d.jobs} at once = min(${d.cores} CPU(s), ${gib(d.availableMiB)} available ÷ ${gib(d.memPerSubjectMiB)} per subject: --mem-per-subject ${gib(memPerSubjectMiB)} x memory factor ${factor})`,
  };
}

/** The study's recorded `--mem-per-subject` (settings.json), else the default 2 GiB. */
export function recordedMemPerSubjectMiB(out: string): number {
  let recorded: unknown;
  try {
    recorded = readStudySettings(out)?.settings.mem_per_subject;
  } catch {
    recorded = undefined; // a damaged settings file: plan/submit name it; the default serves here
  }
  if (typeof recorded !== "string") return DEFAULT_MEM_PER_SUBJECT_MIB;
  try {
    return parseMemory(recorded, "--mem-per-subject");
  } catch {
    return DEFAULT_MEM_PER_SUBJECT_MIB;
  }
}
