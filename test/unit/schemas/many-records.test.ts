import { describe, expect, test } from "vitest";
import { AttemptRecordSchema, DoneRecordSchema, PlanHeaderSchema, PlanTaskSchema, PlanTaskV1Schema, PlanV1Schema } from "../../../src/schemas/records.js";
import { forManyRecords } from "../../../src/schemas/zod.js";

/** zod's generated parser (used by status, collect and whole-plan reads) must agree with the plain schema. */

const done = {
  schema_version: 1,
  kind: "cst-batch-done",
  subject: "sub-001",
  session: "ses-01",
  task_key: "sub-001_ses-01",
  config_hash: "sha256:abc",
  plan_id: "p1",
  csttool_version: "0.5.0",
  cst_batch_version: "0.1.0",
  started_at: "2026-01-01T00:00:00.000Z",
  finished_at: "2026-01-01T01:00:00.000Z",
  duration_seconds: 3600.5,
  host: "node1",
  pid: 123,
  job_id: "77_1",
  csttool_argv: ["csttool", "run", "--nifti", "a b'; echo x.nii.gz"],
  exit_code: 0,
  files: [{ path: "reports/sub-001_ses-01_metrics.json", size: 10 }],
  metrics_file: "reports/sub-001_ses-01_metrics.json",
};

/** A schema-2 task line (input paths relative to the header's input_root). */
const task = {
  index: 3,
  key: "sub-001",
  subject: "sub-001",
  session: null,
  input: { kind: "nifti", nifti: "a.nii.gz", bval: "a.bval", bvec: "a.bvec", json: null, identity: [{ path: "a.nii.gz", size: 1, mtime_ms: 2 }] },
  options: { fa_thr: 0.2, sh_order: 6 },
  config_hash: "h",
};
/** A schema-1 task (read from plans made before schema 2). */
const taskV1 = { ...task, input: { ...task.input, nifti: "/d/a.nii.gz" }, csttool_argv: ["csttool", "run"], output_dir: "sub-001", log_file: "logs/sub-001.log" };
const header = {
  schema_version: 2,
  kind: "cst-batch-plan",
  plan_id: "p",
  created_at: "2026-01-01T00:00:00.000Z",
  cst_batch_version: "0.1.0",
  out_dir: "/o",
  source: { type: "bids", bids_dir: "/d" },
  csttool: { executable: "csttool", version: "0.5.0" },
  options: {},
  run: { timeout_minutes: 60, grace_seconds: 30 },
  task_count: 1,
  skipped: [],
  input_root: "/d",
};

const cases: [string, { safeParse(v: unknown): unknown }, unknown][] = [
  ["done", DoneRecordSchema, done],
  ["done without max_rss_kb (default null)", DoneRecordSchema, done],
  ["done with max_rss_kb", DoneRecordSchema, { ...done, max_rss_kb: 2048 }],
  ["done with an unknown key (kept out)", DoneRecordSchema, { ...done, extra: 1 }],
  ["done, exit_code 1", DoneRecordSchema, { ...done, exit_code: 1 }],
  ["done, bad subject", DoneRecordSchema, { ...done, subject: "001" }],
  ["done, pid 1.5", DoneRecordSchema, { ...done, pid: 1.5 }],
  ["done, files entry with an extra key (strict)", DoneRecordSchema, { ...done, files: [{ path: "a", size: 1, x: 2 }] }],
  ["done, NaN duration", DoneRecordSchema, { ...done, duration_seconds: Number.NaN }],
  ["done, not an object", DoneRecordSchema, [done]],
  ["attempt, missing fields", AttemptRecordSchema, { ...done, kind: "cst-batch-attempt" }],
  [
    "attempt",
    AttemptRecordSchema,
    { ...done, kind: "cst-batch-attempt", attempt_id: "a", category: "TIMEOUT", exit_code: null, signal: "SIGTERM", message: "m", next_step: "n", log_tail: ["x"] },
  ],
  ["task", PlanTaskSchema, task],
  ["task, entities defaulted", PlanTaskSchema, { ...task }],
  ["task with a baked argv (schema 1 only: strict)", PlanTaskSchema, taskV1],
  ["task, odd sh_order (refinement)", PlanTaskSchema, { ...task, options: { sh_order: 5 } }],
  ["task, unknown option", PlanTaskSchema, { ...task, options: { nope: true } }],
  ["task, negative index", PlanTaskSchema, { ...task, index: -1 }],
  ["task v1, dicom_link_dir defaulted", PlanTaskV1Schema, taskV1],
  ["task v1, one-element argv", PlanTaskV1Schema, { ...taskV1, csttool_argv: ["csttool"] }],
  ["task, dicom input without series", PlanTaskSchema, { ...task, input: { kind: "dicom", dicom_dir: "/d" } }],
  ["plan header", PlanHeaderSchema, header],
  ["plan header without input_root", PlanHeaderSchema, { ...header, input_root: undefined }],
  ["plan v1", PlanV1Schema, { ...header, schema_version: 1, input_root: undefined, tasks: [taskV1] }],
  ["plan v1, bad task", PlanV1Schema, { ...header, schema_version: 1, tasks: [{ index: 0 }] }],
];

describe("forManyRecords", () => {
  test.each(cases)("%s: same result as the plain schema", (_name, schema, value) => {
    const plain = schema.safeParse(structuredClone(value));
    const compiled = forManyRecords(schema as never as typeof DoneRecordSchema).safeParse(structuredClone(value));
    expect(compiled).toEqual(plain);
  });

  test("one compiled schema per schema", () => {
    expect(forManyRecords(DoneRecordSchema)).toBe(forManyRecords(DoneRecordSchema));
    expect(forManyRecords(DoneRecordSchema)).not.toBe(DoneRecordSchema);
  });
});
