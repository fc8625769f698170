import { EXIT, type ExitCode } from "../errors.js";
import type { SchedulerJobState } from "../schedulers/types.js";
import { shellQuote } from "../shell/shell-quote.js";

/**
 * The failure catalogue: every way a subject can fail, in one table that the rest of cst-batch
 * reads (the record schema's category list, run-one's exit codes and stop signals, the next step
 * written into records and printed, status's reading of the scheduler's states, resubmit's
 * category names and escalation, the README's table). Loaded on run-one's path: no heavy imports.
 */

/** The categories, in the order tables list them (also the record schema's enum, src/schemas/records.ts). */
export const FAILURE_CATEGORIES = [
  "INPUT_MISSING",
  "VALIDATION",
  "PIPELINE_FAILED",
  "TIMEOUT",
  "CANCELLED",
  "KILLED",
  "OUT_OF_MEMORY",
  "NODE_FAIL",
  "PREEMPTED",
  "SYSTEM",
] as const;
export type FailureCategory = (typeof FAILURE_CATEGORIES)[number];

/** The study a next step is written for: enough to name a command that works there. */
export interface StudyRef {
  /** The study folder (`--out`). */
  out: string;
  /** Local mode (`submit --scheduler local`, or run-one outside a scheduler job): `resubmit` needs a scheduler submission. */
  local: boolean;
  /** Narrow the rerun to these subjects (`--subjects`), e.g. the one a record is about. */
  subjects?: readonly string[];
  /** The one task a record is about (kept for callers; a local rerun is `resubmit --subjects`). */
  task?: { planFile: string; index: number } | null;
  /** How the plan was made, for a local study-wide rerun (`submit` plans again). */
  source?: { flag: "--bids-dir" | "--manifest"; path: string } | null;
  /** The plan's per-subject timeout, to propose a longer one locally. */
  timeoutMinutes?: number | null;
}

/** The resource a `resubmit` factor scales for this category (null: rerun as it was). */
export interface Escalation {
  flag: "--time-factor" | "--mem-factor";
  /** The factor the next step proposes. */
  factor: number;
}

/** What the scheduler says when a job ends this way. */
export interface SchedulerEvidence {
  /** cst-batch's normalised states (src/schedulers/types.ts) that mean this category. */
  states: readonly SchedulerJobState[];
  /** Slurm state words (sacct / squeue, long and short) for those states. */
  slurm: readonly string[];
  /** PBS Pro `Exit_status` values that mean this category. */
  pbsPro: readonly number[];
  /** Torque `exit_status` values that mean this category. */
  torque: readonly number[];
  /** LSF termination reasons (`bjobs -o exit_reason`, `TERM_RUNLIMIT: job killed after ...`) that mean this category. */
  lsf?: readonly string[];
  /** Evidence that is not a plain state word or number (ranges, FAILED with a signal, comments). */
  note: string | null;
  /** Grid Engine qacct `failed` codes that mean this category (absent: none). */
  sge?: readonly number[];
}

export interface FailureEntry {
  category: FailureCategory;
  /** One line: what happened. */
  meaning: string;
  /** run-one's exit code for a subject that ended this way. */
  exitCode: ExitCode;
  /** What to do next in this study: text naming a command that works there. */
  nextStep: (study: StudyRef) => string;
  /** Which `resubmit` factor applies (null: none). */
  escalation: Escalation | null;
  /** `resubmit` (without `--category`) reruns it, and a profile's `retry` map may cap it. */
  retry: { byDefault: boolean; profileLimit: boolean };
  /** Other names users may type (`--category`, profile `retry` keys), upper case. */
  aliases: readonly string[];
  scheduler: SchedulerEvidence;
  /** Signals to run-one that stop the run and are recorded as this category. */
  stopSignals: readonly NodeJS.Signals[];
  /** Signals that mean this category only inside a job of one scheduler (over `stopSignals` of another entry). */
  stopSignalsIn?: { readonly lsf?: readonly NodeJS.Signals[] };
}

const q = shellQuote;

function subjectsFlag(s: StudyRef): string {
  return s.subjects && s.subjects.length > 0 ? ` --subjects ${q(s.subjects.join(","))}` : "";
}

/** `cst-batch resubmit --out OUT [--subjects ...] --category CAT [factor]` (a scheduler study). */
function resubmitCommand(s: StudyRef, category: FailureCategory, escalation: Escalation | null = null): string {
  return `\`cst-batch resubmit --out ${q(s.out)}${subjectsFlag(s)} --category ${category}${escalation ? ` ${escalation.flag} ${escalation.factor}` : ""}\``;
}

/**
 * A local rerun: `resubmit` runs here when the study was run locally (it re-checks the inputs,
 * plans a fixed subject again and runs exactly the selection), with `extra` flags (a longer
 * `--timeout-minutes`).
 */
function localCommand(s: StudyRef, category: FailureCategory | null, extra: string[] = []): string {
  const more = extra.length > 0 ? ` ${extra.join(" ")}` : "";
  return `\`cst-batch resubmit --out ${q(s.out)}${subjectsFlag(s)}${category ? ` --category ${category}` : ""}${more}\``;
}

/** Rerun command for the study: resubmit on its scheduler, or here for a local study. */
function rerun(s: StudyRef, category: FailureCategory, escalation: Escalation | null = null, localExtra: string[] = []): string {
  return s.local ? localCommand(s, category, localExtra) : resubmitCommand(s, category, escalation);
}

/**
 * Plan again (inputs moved), then rerun. `plan --out` alone plans with the study's recorded
 * settings (<out>/.cst-batch/settings.json: source, filters, options), so no flag is repeated.
 * The rerun names no category: in the new plan the subject is not yet run (its failure belongs to
 * the old configuration), so `--category` would select nothing.
 */
function replanThenRerun(s: StudyRef): string {
  const flag = s.source?.flag ?? "--bids-dir";
  return `plan again with \`cst-batch plan --out ${q(s.out)}\` (it uses the study's recorded settings; add \`${flag} <new path>\` only if the dataset itself moved), then ${rerunRemainingCommand(s)}`;
}

const NONE: SchedulerEvidence = { states: [], slurm: [], pbsPro: [], torque: [], note: null };
const RETRIED = { byDefault: true, profileLimit: true } as const;
const TIME_X2: Escalation = { flag: "--time-factor", factor: 2 };
const MEM_X15: Escalation = { flag: "--mem-factor", factor: 1.5 };

/** The table. Keyed by category, so a category without an entry does not compile. */
export const CATALOGUE: { readonly [C in FailureCategory]: FailureEntry & { category: C } } = {
  INPUT_MISSING: {
    category: "INPUT_MISSING",
    meaning: "an input file of the plan is missing or unreadable (csttool was not started), or csttool could not read it (corrupt, truncated)",
    exitCode: EXIT.SUBJECT_FAILED,
    nextStep: (s) => `restore the input files, or if they moved ${replanThenRerun(s)}; once restored: ${rerun(s, "INPUT_MISSING")}`,
    escalation: null,
    retry: RETRIED,
    aliases: ["INPUT"],
    scheduler: NONE,
    stopSignals: [],
  },
  VALIDATION: {
    category: "VALIDATION",
    meaning: "the inputs changed since the plan was made, or csttool refused its arguments",
    exitCode: EXIT.SUBJECT_FAILED,
    nextStep: (s) => `the inputs changed since the plan (or csttool refused its arguments): ${rerun(s, "VALIDATION")} plans a changed subject again and reruns it; if its files moved, ${replanThenRerun(s)}`,
    escalation: null,
    retry: RETRIED,
    aliases: [],
    scheduler: NONE,
    stopSignals: [],
  },
  PIPELINE_FAILED: {
    category: "PIPELINE_FAILED",
    meaning: "csttool exited non-zero, or wrote no metrics; its last error lines are kept",
    exitCode: EXIT.SUBJECT_FAILED,
    nextStep: (s) => `read the subject's error log (logs/<key>_error.log, last lines in its attempt.json); fix the data or options, then ${rerun(s, "PIPELINE_FAILED")}`,
    escalation: null,
    retry: RETRIED,
    aliases: ["PIPELINE"],
    scheduler: NONE,
    stopSignals: [],
  },
  TIMEOUT: {
    category: "TIMEOUT",
    meaning: "cst-batch's per-subject timeout or the scheduler's walltime ended the run",
    exitCode: EXIT.TIMEOUT_OR_KILLED,
    nextStep: (s) =>
      `give it more time: ${rerun(s, "TIMEOUT", TIME_X2, [`--timeout-minutes ${s.timeoutMinutes ? Math.round(s.timeoutMinutes * TIME_X2.factor * 100) / 100 : "<minutes>"}`])}`,
    escalation: TIME_X2,
    retry: RETRIED,
    aliases: ["WALLTIME"],
    scheduler: {
      states: ["timeout"],
      slurm: ["TIMEOUT", "TO"],
      pbsPro: [-29],
      torque: [-11],
      note: 'a PBS comment "walltime N exceeded limit M"; a kill by a signal after the whole walltime (e.g. Torque 271); replaces run-one\'s CANCELLED/KILLED',
      sge: [37],
      lsf: ["TERM_RUNLIMIT", "TERM_CPULIMIT"],
    },
    // Slurm `--signal=B:USR1@T` and Grid Engine's s_rt: the walltime is near. SIGXCPU: a CPU-time limit (PBS/Torque).
    stopSignals: ["SIGUSR1", "SIGXCPU"],
    // SIGUSR2 in an LSF job: the run limit, SIGKILL ten minutes later (IBM bsub -W; recorded: exit 140 = 128 + 12, test/fixtures/schedulers/lsf/).
    stopSignalsIn: { lsf: ["SIGUSR2"] },
  },
  CANCELLED: {
    category: "CANCELLED",
    meaning: "the run was cancelled (scancel, qdel, bkill, Ctrl-C)",
    exitCode: EXIT.TIMEOUT_OR_KILLED,
    nextStep: (s) => `rerun when ready: ${rerun(s, "CANCELLED")}`,
    escalation: null,
    retry: RETRIED,
    aliases: [],
    scheduler: { states: ["cancelled"], slurm: ["CANCELLED", "REVOKED", "CA"], pbsPro: [], torque: [], note: null, lsf: ["TERM_OWNER", "TERM_FORCE_OWNER", "TERM_ADMIN", "TERM_FORCE_ADMIN"] },
    // SIGUSR2: Grid Engine's `-notify` warning before the SIGKILL of a qdel (or of h_rt: qacct's failed 37 then corrects it to TIMEOUT).
    stopSignals: ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR2"],
  },
  KILLED: {
    category: "KILLED",
    meaning: "the run died without recording its outcome, or csttool was killed by a signal from outside",
    exitCode: EXIT.TIMEOUT_OR_KILLED,
    nextStep: (s) => `the run was killed from outside (node failure, scheduler, or a crash of cst-batch): ${rerun(s, "KILLED")}`,
    escalation: null,
    retry: RETRIED,
    aliases: [],
    scheduler: { states: ["killed"], slurm: [], pbsPro: [], torque: [], note: "Slurm FAILED with a signal (ExitCode 0:9); PBS/Torque exit status 128-253 or >= 256 (killed by signal N-128 / N-256)", lsf: ["TERM_EXTERNAL_SIGNAL"] },
    stopSignals: [],
  },
  OUT_OF_MEMORY: {
    category: "OUT_OF_MEMORY",
    meaning: "the out-of-memory killer or the scheduler's memory limit ended the run",
    exitCode: EXIT.TIMEOUT_OR_KILLED,
    nextStep: (s) =>
      s.local
        ? `free memory on this machine (run fewer subjects at once with \`--jobs\`), then ${localCommand(s, "OUT_OF_MEMORY", ["--jobs 1"])}`
        : `request more memory: ${resubmitCommand(s, "OUT_OF_MEMORY", MEM_X15)}`,
    escalation: MEM_X15,
    retry: RETRIED,
    aliases: ["OOM"],
    scheduler: {
      states: ["out_of_memory"],
      slurm: ["OUT_OF_MEMORY", "OOM"],
      pbsPro: [-27, -26],
      torque: [-10],
      note: 'a SIGKILL cst-batch did not send (with the cgroup\'s oom_kill count); Slurm FAILED 0:9 with MaxRSS at or above --mem (OverMemoryKill); a PBS comment "mem N exceeded limit M"; Grid Engine failed 37 with maxvmem at or above the h_vmem request; replaces run-one\'s CANCELLED/KILLED',
      lsf: ["TERM_MEMLIMIT", "TERM_SWAP"],
    },
    stopSignals: [],
  },
  NODE_FAIL: {
    category: "NODE_FAIL",
    meaning: "the node running the job failed (the subject is not the cause)",
    exitCode: EXIT.TIMEOUT_OR_KILLED,
    nextStep: (s) => `not caused by this subject: ${rerun(s, "NODE_FAIL")}`,
    escalation: null,
    retry: RETRIED,
    aliases: ["NODE_FAILURE"],
    scheduler: { states: ["node_fail"], slurm: ["NODE_FAIL", "NF"], pbsPro: [], torque: [], note: "a stop signal while Slurm requeues the job (run-one asks scontrol); not a failure while the scheduler runs it again", lsf: ["TERM_ZOMBIE"] },
    stopSignals: [],
  },
  PREEMPTED: {
    category: "PREEMPTED",
    meaning: "the scheduler preempted the job for another one (the subject is not the cause)",
    exitCode: EXIT.TIMEOUT_OR_KILLED,
    nextStep: (s) => `not caused by this subject: ${rerun(s, "PREEMPTED")}`,
    escalation: null,
    retry: RETRIED,
    aliases: [],
    scheduler: { states: ["preempted"], slurm: ["PREEMPTED", "PR"], pbsPro: [], torque: [], note: "a stop signal while Slurm requeues the job for preemption (run-one asks scontrol); not a failure while the scheduler runs it again", lsf: ["TERM_PREEMPT"] },
    stopSignals: [],
  },
  SYSTEM: {
    category: "SYSTEM",
    meaning: "a problem of the system, not the subject: disk full, permissions, csttool or cst-batch not startable",
    exitCode: EXIT.SYSTEM,
    nextStep: (s) => `fix the system problem named in the message (disk space, permissions, csttool installation), then ${rerun(s, "SYSTEM")}`,
    escalation: null,
    retry: RETRIED,
    aliases: [],
    scheduler: { states: [], slurm: [], pbsPro: [], torque: [], note: "a job that ended FAILED (non-zero exit, no signal) without any record: cst-batch itself could not run" },
    stopSignals: [],
  },
};

/** The catalogue's entries in FAILURE_CATEGORIES order. */
export const FAILURE_ENTRIES: readonly FailureEntry[] = FAILURE_CATEGORIES.map((c) => CATALOGUE[c]);

/** The entry of a category. */
export function failureEntry(category: FailureCategory): FailureEntry {
  return CATALOGUE[category];
}

/** What to do next about a failure of this category, in this study. */
export function nextStepFor(category: FailureCategory, study: StudyRef): string {
  return CATALOGUE[category].nextStep(study);
}

/**
 * The command that reruns what is neither done, running nor queued in this study (failed, stale,
 * damaged, never run): `resubmit` on a cluster, the local rerun otherwise.
 */
export function rerunRemainingCommand(study: StudyRef, failedOnly = false): string {
  if (study.local) return localCommand(study, null, failedOnly ? ["--failed"] : []);
  return `\`cst-batch resubmit --out ${q(study.out)}${subjectsFlag(study)}${failedOnly ? " --failed" : ""}\``;
}

