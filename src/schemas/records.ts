import * as z from "./zod.js";
import { CsttoolOptionsSchema } from "./options.js";
import { FAILURE_CATEGORIES } from "../failures/catalogue.js";

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

export const SubjectIdSchema = z.string().check(z.regex(/^sub-[A-Za-z0-9]+$/));
export const SessionIdSchema = z.string().check(z.regex(/^ses-[A-Za-z0-9]+$/));

/** Size + mtime of one input file, checked again by run-one before it starts csttool. */
export const FileIdentitySchema = z.strictObject({
  path: z.string(),
  size: z.number(),
  mtime_ms: z.number(),
});
export type FileIdentity = z.infer<typeof FileIdentitySchema>;

export const DicomSeriesSchema = z.strictObject({
  series_uid: z.string(),
  series_number: z.nullable(z.string()),
  series_description: z.nullable(z.string()),
  file_count: z.int(),
});
export type DicomSeries = z.infer<typeof DicomSeriesSchema>;

export const NiftiInputSchema = z.strictObject({
  kind: z.literal("nifti"),
  nifti: z.string(),
  bval: z.string(),
  bvec: z.string(),
  json: z.nullable(z.string()),
  /** BIDS entities of the DWI file other than sub/ses (acq, dir, run), kept for naming. */
  entities: z._default(z.record(z.string(), z.string()), {}),
  identity: z.array(FileIdentitySchema),
});

export const DicomInputSchema = z.strictObject({
  kind: z.literal("dicom"),
  dicom_dir: z.string(),
  /** Set when csttool must see only one series of the folder (symlinked into _work/). */
  series_uid: z.nullable(z.string()),
  series: DicomSeriesSchema,
  /** file count, total size and newest mtime of the chosen series' files. */
  identity: z.strictObject({ file_count: z.int(), total_size: z.number(), newest_mtime_ms: z.number() }),
});

export const TaskInputSchema = z.discriminatedUnion("kind", [NiftiInputSchema, DicomInputSchema]);
export type TaskInput = z.infer<typeof TaskInputSchema>;

export const PlanTaskSchema = z.strictObject({
  index: z.int().check(z.minimum(0)),
  /** `sub-001` or `sub-001_ses-01`: names the log files. */
  key: z.string(),
  subject: SubjectIdSchema,
  session: z.nullable(SessionIdSchema),
  input: TaskInputSchema,
  options: CsttoolOptionsSchema,
  /** The exact argv; argv[0] is the csttool executable. */
  csttool_argv: z.array(z.string()).check(z.minLength(2)),
  /**
   * Set when a series subset is linked at run time: the folder handed to csttool as `--dicom`, as
   * planned. run-one links into `dicomLinkDir` of the subject folder where the study is now.
   */
  dicom_link_dir: z._default(z.nullable(z.string()), null),
  /** Relative to the plan's out_dir. */
  output_dir: z.string(),
  log_file: z.string(),
  config_hash: z.string(),
});
export type PlanTask = z.infer<typeof PlanTaskSchema>;

export const SkippedSubjectSchema = z.strictObject({
  subject: z.string(),
  session: z.nullable(z.string()),
  reason: z.string(),
  details: z._default(z.array(z.string()), []),
});
export type SkippedSubject = z.infer<typeof SkippedSubjectSchema>;

export const PlanSourceSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("bids"), bids_dir: z.string() }),
  z.strictObject({
    type: z.literal("manifest"),
    manifest_path: z.string(),
    name: z.nullable(z.string()),
    description: z.nullable(z.string()),
  }),
]);

export const RunSettingsSchema = z.strictObject({
  timeout_minutes: z.number().check(z.positive()),
  grace_seconds: z.number().check(z.minimum(0)),
});
export type RunSettings = z.infer<typeof RunSettingsSchema>;

/**
 * What the planned csttool offers, from `csttool run --help` at plan time (preflight checked the
 * options against it; run-one never probes). `probed: false` (with the reason) when the help was
 * not available: a stand-in without `--help`, or `--csttool-version` given. Not strict, so a
 * later cst-batch may add fields without breaking this one.
 */
export const CsttoolCapabilitiesSchema = z.object({
  probed: z.boolean(),
  reason: z.nullable(z.string()),
  /** Long options of `csttool run`, sorted. */
  flags: z.array(z.string()),
  /** Allowed values per option that lists them. */
  choices: z.record(z.string(), z.array(z.string())),
});
export type CsttoolCapabilities = z.infer<typeof CsttoolCapabilitiesSchema>;

/** Everything but the task list: run-one validates only this and its own task. */
export const PlanHeaderSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-plan"),
  plan_id: z.string(),
  created_at: z.string(),
  cst_batch_version: z.string(),
  out_dir: z.string(),
  source: PlanSourceSchema,
  csttool: z.strictObject({ executable: z.string(), version: z.string() }),
  /** Added after schema 1 shipped: optional, older plans have none. */
  csttool_capabilities: z.optional(CsttoolCapabilitiesSchema),
  options: CsttoolOptionsSchema,
  run: RunSettingsSchema,
  task_count: z.int().check(z.minimum(0)),
  skipped: z.array(SkippedSubjectSchema),
});

export const PlanSchema = z.extend(PlanHeaderSchema, { tasks: z.array(PlanTaskSchema) });
export type Plan = z.infer<typeof PlanSchema>;
export type PlanHeader = z.infer<typeof PlanHeaderSchema>;

/** What readers of a whole output folder (status, collect) keep of each task. */
export const PlanTaskRefSchema = z.pick(PlanTaskSchema, { index: true, key: true, subject: true, session: true, output_dir: true, config_hash: true });
export type PlanTaskRef = z.infer<typeof PlanTaskRefSchema>;

/**
 * `<plan>.refs.json` beside a plan file (written with it by `cst-batch plan`): every task's
 * `PlanTaskRef`, so status and collect need not parse a 20 MB plan. Used only while `plan_id`
 * and `plan_bytes` match the plan file next to it; otherwise the plan itself is read.
 */
export const PlanRefsSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-plan-refs"),
  plan_id: z.string(),
  /** Size of the plan file these refs were taken from. */
  plan_bytes: z.int().check(z.minimum(0)),
  tasks: z.array(PlanTaskRefSchema),
});
export type PlanRefs = z.infer<typeof PlanRefsSchema>;

export const PromotedFileSchema = z.strictObject({ path: z.string(), size: z.number() });

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
};

/** `<subject>/_promoted.json`: the files (relative) of the last result cst-batch promoted there. */
export const PromotedListSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-promoted"),
  files: z.array(z.string()),
});
export type PromotedList = z.infer<typeof PromotedListSchema>;

export const DoneRecordSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-done"),
  ...runIdentity,
  exit_code: z.literal(0),
  files: z.array(PromotedFileSchema),
  /** Relative to the subject folder. */
  metrics_file: z.nullable(z.string()),
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
