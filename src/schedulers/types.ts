/** The batch schedulers cst-batch renders scripts for (`local` is not a scheduler backend). */
export const SCHEDULER_NAMES = ["slurm", "pbs", "torque", "sge", "lsf"] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

export type ContainerRuntime = "apptainer" | "singularity";

/** LSF's `LSF_UNIT_FOR_LIMITS` values (lsf.conf): the unit of `-M` and `rusage[mem=]` numbers. */
export const LSF_UNITS = ["KB", "MB", "GB", "TB", "PB", "EB"] as const;
export type LsfUnit = (typeof LSF_UNITS)[number];

/** What one array element (or the collect job) asks the scheduler for. Values already validated. */
export interface ResourceRequest {
  /** Wall-clock limit in whole seconds (from `parseDuration`). */
  timeSeconds: number;
  /** Memory in whole MiB (from `parseMemory`). */
  memMiB: number;
  cpus: number;
  /** Slurm partition / PBS queue. */
  partition: string | null;
  account: string | null;
  /** Slurm only (PBS has no QOS; rejected there). */
  qos: string | null;
  /** Slurm `--gres` (e.g. `gpu:1`); PBS Pro appends it to the select chunk (`ngpus=1`); Torque rejects it. */
  gres: string | null;
  /** Grid Engine: the resource memory is requested as (`h_vmem`, `mem_free`, `m_mem_free`); default `mem_free`. */
  memoryResource?: string | null;
  /** Grid Engine: the parallel environment `--cpus` > 1 is requested in (`-pe <name> N`). */
  parallelEnvironment?: string | null;
}

/** Fields shared by the array and the collect script. All paths absolute. */
export interface ScriptContextBase {
  jobName: string;
  /** Scheduler stdout/stderr files go here; must exist before submit (Slurm fails the job otherwise). */
  logDir: string;
  /** The folder the script `cd`s to first (PBS starts jobs in $HOME); usually the out dir. */
  workDir: string;
  resources: ResourceRequest;
  /**
   * Raw directive arguments from `--scheduler-arg`, written verbatim after the dialect's prefix
   * (`#SBATCH --constraint=avx2`, `#PBS -l place=scatter`). One line each; newlines rejected.
   */
  schedulerArgs: string[];
  /**
   * Setup lines from `--setup` (e.g. `module load csttool`), written verbatim: they are shell by
   * intent and are not quoted. One line each; newlines rejected.
   */
  setupLines: string[];
  /** Absolute `process.execPath` of the submitting node (the compute nodes must see the same path). */
  nodeExecutable: string;
  /** Absolute path to `bin/cst-batch.js`. */
  entryScript: string;
  /** Absolute path of the submission record (exported as CST_BATCH_SUBMISSION). */
  submissionFile: string;
  outDir: string;
  /**
   * LSF only: the site's `LSF_UNIT_FOR_LIMITS` (profile `lsf_unit_for_limits`); null/absent = not
   * set at the site, LSF's defaults apply (`-M` in KB, `rusage[mem=]` in MB).
   */
  lsfUnitForLimits?: LsfUnit | null;
}

/** Everything an array script needs. Element k runs chunk `chunkOffset + k` of the submission. */
export interface ArrayScriptContext extends ScriptContextBase {
  /** Array indices are 0..arraySize-1 (>= 1). */
  arraySize: number;
  /** Max elements running at once; null = no limit. PBS Pro has no throttle: rejected there. */
  throttle: number | null;
  /**
   * One comment line saying how this array's throttle relates to the study-wide one (lanes of
   * shards, see src/submit/throttle-lanes.ts); null/absent = none.
   */
  throttleNote?: string | null;
  /** Added to the array index to get the chunk number (for shards beyond MaxArraySize). */
  chunkOffset: number;
  /** Per-task csttool timeout handed to `run-one --timeout-minutes`. */
  timeoutMinutes: number;
  /** Slurm: `--signal=B:USR1@<seconds>` asks for USR1 this long before the time limit. */
  signalWarningSeconds: number;
  container: { image: string; runtime: ContainerRuntime } | null;
  /** run-one may replace files in subject folders that cst-batch did not create (`--adopt-existing`). */
  adoptExisting?: boolean;
}

export type CollectScriptContext = ScriptContextBase;

/** A scheduler's view of one array element (or of one plain job, `arrayIndex` null). */
export type SchedulerJobState =
  | "pending"
  | "running"
  | "completed"
  | "failed"
  | "cancelled"
  /** Ended by a signal, cause unknown (PBS exit status 128-253 or >= 256): qdel, a limit, the OOM killer. */
  | "killed"
  | "timeout"
  | "out_of_memory"
  | "node_fail"
  | "preempted"
  | "unknown";

/** Where a scheduler's peak-memory figure comes from (the record's `max_rss_source`). */
export type SchedulerPeakSource = "sacct" | "qstat" | "qacct" | "bjobs";

export interface TaskSchedulerState {
  /** The array job id as submitted (`12`, `48[].server`) or the plain job id. */
  jobId: string;
  arrayIndex: number | null;
  state: SchedulerJobState;
  /** The scheduler's own word (`PENDING`, `CANCELLED by 0`, `Q`, `X`, `C`). */
  rawState: string;
  /** Slurm reason (`JobArrayTaskLimit`, `Dependency`, `NonZeroExitCode`) or PBS comment; null when none. */
  reason: string | null;
  /** Exit code of the batch script when finished; null when unknown or still running. */
  exitCode: number | null;
  /** Signal that ended it, when the scheduler reports one. */
  signal: number | null;
  elapsedSeconds: number | null;
  maxRssKb: number | null;
  /** Which of the scheduler's commands `maxRssKb` came from (set by status from the backend). */
  peakSource?: SchedulerPeakSource;
  node: string | null;
  /** The memory the job asked for (PBS `Resource_List.mem`; else filled from the submission record by status). */
  requestedMemKb?: number | null;
  /** The walltime the job asked for (PBS `Resource_List.walltime`; else from the submission record). */
  requestedSeconds?: number | null;
}

/** Options for the submit command line. */
export interface SubmitOptions {
  /** Job ids (as `parseJobId` returned them) the new job waits for, whatever their outcome. */
  dependsOn?: string[];
  /** True when the ids in `dependsOn` are array jobs (Torque needs `afteranyarray` then). */
  dependsOnArrays?: boolean;
}

/**
 * One scheduler dialect: small functions, pure except that rendering reads the template files
 * (from `templateDir` when given, else the packaged `templates/`).
 */
export interface SchedulerBackend {
  readonly name: SchedulerName;
  /** The command whose figure a task's scheduler peak memory is (sacct MaxRSS, qstat resources_used.mem, qacct maxrss, bjobs max_mem). */
  readonly peakSource: SchedulerPeakSource;
  /** The submit program (`sbatch`, `qsub`). */
  readonly submitCommand: string;
  /** Render the array script. Throws CstError("USAGE") for a value the dialect cannot hold. */
  renderArrayScript(ctx: ArrayScriptContext, opts?: RenderOptions): string;
  renderCollectScript(ctx: CollectScriptContext, opts?: RenderOptions): string;
  /** argv (argv[0] = program) to submit `scriptPath`. */
  submitArgv(scriptPath: string, opts?: SubmitOptions): string[];
  /** The job id from the submit program's stdout; throws CstError("SCHEDULER") if none is found. */
  parseJobId(stdout: string): string;
  /** argv that lists the state of every element of the given jobs (live queue, incl. recently finished). */
  statusQueryArgv(jobIds: string[]): string[];
  /** Parse the output of `statusQueryArgv`. Unknown lines are skipped, never thrown on. */
  parseStatus(stdout: string): TaskSchedulerState[];
  /** Slurm only: accounting query (sacct) for jobs gone from the queue, and its parser. */
  accountingQueryArgv?(jobIds: string[]): string[];
  parseAccounting?(stdout: string): TaskSchedulerState[];
  /** argv that cancels the given jobs. */
  cancelArgv(jobIds: string[]): string[];
  /**
   * A line of the cancel command's answer that says an id was stopped, or had already ended or
   * was being deleted. A cancel command that exits non-zero with only such lines stopped all it
   * could (`onlyGoneIds`): Grid Engine's qdel exits 1 when one task of its list has just ended.
   * Unset: the exit status alone decides (Slurm's scancel exits 0 for ended ids).
   */
  cancelAnswer?: RegExp;
  /**
   * Grid Engine: accounting (qacct) knows finished tasks only, so status asks the live queue
   * once AND accounting once per job (`accountingIdsPerCommand` ids per command).
   */
  accountingComplementsQueue?: boolean;
  accountingIdsPerCommand?: number;
}

export interface RenderOptions {
  /** A folder holding user copies of the templates (same relative names); missing files fall back. */
  templateDir?: string;
}
