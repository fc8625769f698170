import * as z from "./zod.js";
import { FAILURE_CATEGORIES } from "../failures/catalogue.js";
import { SessionIdSchema, SubjectIdSchema } from "./plan.js";

/**
 * The files that cross a process boundary (the batch summary and submission records are in
 * study-records.ts, status's cache in status-cache.ts). Each carries `schema_version` and a
 * `kind`, is written atomically (temp + fsync + rename) and is read with `safeParse`.
 */
export const SCHEMA_VERSION = 1 as const;
const schemaVersion = z.literal(SCHEMA_VERSION);

/** The categories are the failure catalogue's (src/failures/catalogue.ts), re-exported for the schema's readers. */
export { FAILURE_CATEGORIES };
export const FailureCategorySchema = z.enum(FAILURE_CATEGORIES);
export type FailureCategory = z.infer<typeof FailureCategorySchema>;

export * from "./plan.js";

export const PromotedFileSchema = z.strictObject({ path: z.string(), size: z.number() });

/**
 * Where a peak-memory figure came from: cgroup = the scheduler job's own cgroup peak
 * (memory.peak / memory.max_usage_in_bytes); rusage = the reaped children's ru_maxrss;
 * sampled = /proc samples (VmHWM / VmRSS, may miss a short peak); sacct = the scheduler's MaxRSS.
 */
export const MAX_RSS_SOURCES = ["cgroup", "rusage", "sampled", "sacct", "qstat", "qacct", "bjobs"] as const;
/** The sources that are a scheduler's own figure (see SchedulerPeakSource). */
export const SCHEDULER_RSS_SOURCES: ReadonlySet<string> = new Set(["sacct", "qstat", "qacct", "bjobs"]);
export const MaxRssSourceSchema = z.enum(MAX_RSS_SOURCES);
export type MaxRssSource = z.infer<typeof MaxRssSourceSchema>;

const runIdentity = {
  subject: SubjectIdSchema,
  session: z.nullable(SessionIdSchema),
  task_key: z.string(),
  config_hash: z.string(),
  plan_id: z.string(),
  csttool_version: z.string(),
  cst_batch_version: z.string(),
  started_at: z.string(),
  finished_at: z.string(),
  duration_seconds: z.number(),
  host: z.string(),
  pid: z.int(),
  job_id: z.nullable(z.string()),
  csttool_argv: z.array(z.string()),
  /** Peak resident memory of csttool and its children, when the platform reports it. */
  max_rss_kb: z._default(z.nullable(z.number()), null),
  /** Where max_rss_kb came from (see MAX_RSS_SOURCES); null when unknown (older records). */
  max_rss_source: z._default(z.nullable(MaxRssSourceSchema), null),
  /** run-one's own figure, kept when status/collect replaced it by the scheduler's larger MaxRSS (max_rss_source `sacct`). */
  max_rss_own: z.optional(z.object({ kb: z.nullable(z.number()), source: z.nullable(MaxRssSourceSchema) })),
};

/** `<subject>/_promoted.json`: the files (relative) of the last result cst-batch promoted there. */
export const PromotedListSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-promoted"),
  files: z.array(z.string()),
});
export type PromotedList = z.infer<typeof PromotedListSchema>;

/** sha-256 of an input file's bytes as csttool ran on them, with the identity it had (src/run/input-hashes.ts). */
export const InputHashSchema = z.object({ path: z.string(), size: z.number(), mtime_ms: z.number(), ino: z.number(), sha256: z.string() });
export type InputHash = z.infer<typeof InputHashSchema>;

export const DoneRecordSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-done"),
  ...runIdentity,
  exit_code: z.literal(0),
  files: z.array(PromotedFileSchema),
  /** Relative to the subject folder. */
  metrics_file: z.nullable(z.string()),
  /** The NIfTI inputs' content hashes (absent: DICOM input, older record, or an input changed during the run). */
  input_hashes: z.optional(z.array(InputHashSchema)),
  /** Inputs whose size or mtime changed while csttool ran (their hashes are then not recorded). */
  inputs_changed_during_run: z.optional(z.array(z.string())),
  /**
   * Whether `_failed_attempts/` existed when this record was written (absent: an older record).
   * false lets status skip looking for it; every writer of a new failed attempt turns it to true
   * first (src/run/attempt.ts `failedAttemptDir`).
   */
  had_failed_attempts: z.optional(z.boolean()),
});
export type DoneRecord = z.infer<typeof DoneRecordSchema>;

export const AttemptRecordSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-attempt"),
  attempt_id: z.string(),
  ...runIdentity,
  category: FailureCategorySchema,
  exit_code: z.nullable(z.int()),
  signal: z.nullable(z.string()),
  message: z.string(),
  next_step: z.string(),
  log_tail: z.array(z.string()),
  /** Who recorded it: run-one itself, or status/collect from the scheduler's view. */
  recorded_by: z._default(z.enum(["run-one", "recovery", "scheduler"]), "run-one"),
  /**
   * What run-one itself recorded, kept when the scheduler's verdict replaced its category
   * (CANCELLED/KILLED corrected to TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED by status/collect).
   */
  observed: z._default(
    z.nullable(
      z.object({
        category: FailureCategorySchema,
        message: z.string(),
        recorded_by: z.enum(["run-one", "recovery"]),
        exit_code: z.nullable(z.int()),
        signal: z.nullable(z.string()),
        next_step: z.string(),
      }),
    ),
    null,
  ),
});
export type AttemptRecord = z.infer<typeof AttemptRecordSchema>;

/** Written into `_work/attempt.json` when an attempt starts; tells a later run what was going on. */
export const AttemptStartSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-attempt-start"),
  subject: SubjectIdSchema,
  session: z.nullable(SessionIdSchema),
  task_key: z.string(),
  config_hash: z.string(),
  plan_id: z.string(),
  started_at: z.string(),
  host: z.string(),
  pid: z.int(),
  job_id: z.nullable(z.string()),
  /** Set once run-one knows why it is stopping (a signal arrived), before it waits for csttool. */
  pending_category: z._default(z.nullable(FailureCategorySchema), null),
});
export type AttemptStart = z.infer<typeof AttemptStartSchema>;

/** The content of a subject's lock file while it is held. */
export const LockOwnerSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-lock"),
  pid: z.int(),
  host: z.string(),
  job_id: z.nullable(z.string()),
  since: z.string(),
  /** csttool's process group, so a later run on the same host can reap orphans of a dead holder. */
  child_pgid: z._default(z.nullable(z.int()), null),
  token: z.string(),
});
export type LockOwner = z.infer<typeof LockOwnerSchema>;
