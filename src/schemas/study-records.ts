import * as z from "./zod.js";
import { FailureCategorySchema, MaxRssSourceSchema, SCHEMA_VERSION } from "./records.js";
import { InvalidSubjectSchema } from "./plan.js";

// The study-wide records: collect's summary and submit's submission records (the study's
// domain; records.ts holds a subject's: plan task, done, attempt, lock owner).

const schemaVersion = z.literal(SCHEMA_VERSION);

/** collect's statuses: TaskState's (src/state/task-state.ts), the one local derivation status shares. */
export const TASK_STATUSES = ["success", "failed", "pending", "running", "stale"] as const;
export const TaskStatusSchema = z.enum(TASK_STATUSES);

export const SummaryTaskSchema = z.object({
  index: z.int(),
  subject: z.string(),
  session: z.nullable(z.string()),
  status: TaskStatusSchema,
  category: z.nullable(FailureCategorySchema),
  attempts: z.int(),
  duration_seconds: z.nullable(z.number()),
  log_path: z.string(),
  error_log_path: z.nullable(z.string()),
  error: z.nullable(z.string()),
  host: z.nullable(z.string()),
  job_id: z.nullable(z.string()),
  max_rss_kb: z.nullable(z.number()),
  /** Where max_rss_kb came from: cgroup, rusage, sampled or sacct (see records.ts). */
  max_rss_source: z._default(z.nullable(MaxRssSourceSchema), null),
  output_dir: z.string(),
});

export const SummarySchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-summary"),
  generated_at: z.string(),
  cst_batch_version: z.string(),
  plan: z.object({ plan_id: z.string(), path: z.string(), created_at: z.string(), task_count: z.int() }),
  counts: z.object({
    total: z.int(),
    success: z.int(),
    failed: z.int(),
    pending: z.int(),
    running: z.int(),
    /** Added with the shared state derivation; summaries written before it have none. */
    stale: z._default(z.int(), 0),
    /** Subjects set aside as invalid (--skip-invalid; not run): counted in `total`, listed in `invalid`. Older summaries have none. */
    invalid: z._default(z.int(), 0),
    /** Subjects left out by --include/--exclude: not in `total`, listed in `excluded`. Older summaries have none. */
    excluded: z._default(z.int(), 0),
  }),
  by_category: z.record(z.string(), z.int()),
  tasks: z.array(SummaryTaskSchema),
  /** Damaged or missing state / metrics files found while collecting, by path. */
  problems: z._default(z.array(z.string()), []),
  /** Subjects planned as invalid (--skip-invalid; not run) with their problems. Optional: older summaries have none. */
  invalid: z.optional(z.array(InvalidSubjectSchema)),
  /** Subject ids left out by --include/--exclude. Optional, as above. */
  excluded: z.optional(z.array(z.string())),
  /** The newest run's canary stopped these pending tasks (not failures; src/collect/canary-note.ts). Optional, as above. */
  canary: z.optional(z.object({ submission_id: z.string(), message: z.string(), next_step: z.string(), not_run: z.array(z.string()) })),
});
export type Summary = z.infer<typeof SummarySchema>;

/** One `submit`: which plan tasks each array element runs, and what was handed to the scheduler. */
export const SubmissionSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-submission"),
  submission_id: z.string(),
  created_at: z.string(),
  scheduler: z.enum(["slurm", "pbs", "torque", "local", "sge", "lsf"]),
  plan_id: z.string(),
  plan_path: z.string(),
  command_line: z.array(z.string()),
  /** chunks[k] = the plan indices array element k runs, one after another. */
  chunks: z.array(z.array(z.int().check(z.minimum(0)))),
  /** Canary size K for the array tasks (src/failures/canary.ts); absent: the default. */
  canary: z.optional(z.int().check(z.minimum(0))),
  shards: z.array(
    z.object({
      shard: z.int(),
      first_chunk: z.int(),
      count: z.int(),
      job_id: z.nullable(z.string()),
      script: z.string(),
      submit_argv: z.array(z.string()),
      // Absent in records written before the study-wide throttle (and in hand-built ones).
      /** This array's `%N`: its lane's share of the study-wide --array-throttle (null = none). See src/submit/throttle-lanes.ts. */
      throttle: z.optional(z.nullable(z.int())),
      /** Throttle lane: shards of one lane run one after another. */
      lane: z.optional(z.nullable(z.int())),
      /** Job ids this array waits for (afterany): the lane's previous shard, and earlier arrays of the study still in flight. */
      depends_on: z.optional(z.array(z.string())),
    }),
  ),
  collect: z.nullable(z.object({ job_id: z.nullable(z.string()), script: z.string(), submit_argv: z.array(z.string()) })),
  resources: z.record(z.string(), z.unknown()),
  dry_run: z._default(z.boolean(), false),
});
export type Submission = z.infer<typeof SubmissionSchema>;
