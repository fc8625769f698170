import * as z from "./zod.js";
import { CsttoolOptionsSchema } from "./options.js";

/**
 * The plan file (docs/architecture.md, "The plan file"). Schema 2 is JSON Lines: line 1 the
 * header (`PlanHeaderSchema`), then one `PlanTaskSchema` line per task in index order, input
 * paths relative to the header's `input_root` where they lie below it. Schema 1 (one JSON
 * object, `PlanV1Schema`) is still read. In memory both become a `Plan`: the header and decoded
 * tasks (`PlanTask`: absolute input paths, `output_dir` from the layout).
 */
export const PLAN_SCHEMA_VERSION = 2 as const;

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

/** One task line of a schema-2 plan. csttool's argv is not stored: run-one builds it (src/run/csttool-argv.ts). */
export const PlanTaskSchema = z.strictObject({
  index: z.int().check(z.minimum(0)),
  /** `sub-001` or `sub-001_ses-01`: names the log files. */
  key: z.string(),
  subject: SubjectIdSchema,
  session: z.nullable(SessionIdSchema),
  /** Paths below the header's `input_root` are relative to it; others absolute. */
  input: TaskInputSchema,
  options: CsttoolOptionsSchema,
  config_hash: z.string(),
});
export type PlanTaskLine = z.infer<typeof PlanTaskSchema>;

/** A task as every reader sees it: input paths absolute, and its folder relative to the study. */
export type PlanTask = PlanTaskLine & {
  /** `sub-X` or `sub-X/ses-Y`, relative to the study folder (src/layout.ts `relativeTaskDir`). */
  output_dir: string;
};

export const SkippedSubjectSchema = z.strictObject({
  subject: z.string(),
  session: z.nullable(z.string()),
  reason: z.string(),
  details: z._default(z.array(z.string()), []),
});
export type SkippedSubject = z.infer<typeof SkippedSubjectSchema>;

/**
 * A subject planned with `--skip-invalid` although preflight found errors in it: a task in state
 * `invalid`, with its problems, never run; a later plan picks it up once fixed.
 */
export const InvalidSubjectSchema = z.strictObject({
  key: z.string(),
  subject: z.string(),
  session: z.nullable(z.string()),
  problems: z.array(z.strictObject({ category: z.string(), message: z.string(), fix: z.string() })),
});
export type InvalidSubject = z.infer<typeof InvalidSubjectSchema>;

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

const headerFields = {
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
  /** Added with --skip-invalid: optional, older plans have none. */
  invalid: z.optional(z.array(InvalidSubjectSchema)),
  /** Subject ids left out by --include/--exclude (counted as excluded). Optional, as above. */
  excluded: z.optional(z.array(z.string())),
};

/** Line 1 of a schema-2 plan. */
export const PlanHeaderSchema = z.object({
  schema_version: z.literal(PLAN_SCHEMA_VERSION),
  ...headerFields,
  /** The BIDS folder, or the manifest's folder: relative input paths in task lines are below it. */
  input_root: z.string(),
});

/** A plan's header as readers see it, whichever schema the file has (a schema-1 plan has input_root ""). */
export type PlanHeader = Omit<z.infer<typeof PlanHeaderSchema>, "schema_version"> & { schema_version: 1 | 2 };
export type Plan = PlanHeader & { tasks: PlanTask[] };

/** What readers of a whole output folder (status, collect) keep of each task. */
export type PlanTaskRef = Pick<PlanTask, "index" | "key" | "subject" | "session" | "output_dir" | "config_hash">;

/** A task of a schema-1 plan (read only): its csttool argv baked in, paths absolute. */
export const PlanTaskV1Schema = z.extend(PlanTaskSchema, {
  /** Ignored on read: run-one builds the argv from the task (as the planner built this one). */
  csttool_argv: z.array(z.string()).check(z.minLength(2)),
  dicom_link_dir: z._default(z.nullable(z.string()), null),
  output_dir: z.string(),
  log_file: z.string(),
});

/** A schema-1 plan: one JSON object, the task list last (read only). */
export const PlanV1HeaderSchema = z.object({ schema_version: z.literal(1), ...headerFields });
export const PlanV1Schema = z.extend(PlanV1HeaderSchema, { tasks: z.array(PlanTaskV1Schema) });
