import { describe, expect, test } from "vitest";
import { AttemptRecordSchema, DoneRecordSchema, PlanRefsSchema, PlanTaskSchema } from "../../../src/schemas/records.js";
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

const task = {
  index: 3,
  key: "sub-001",
  subject: "sub-001",
  session: null,
  input: { kind: "nifti", nifti: "/d/a.nii.gz", bval: "/d/a.bval", bvec: "/d/a.bvec", json: null, identity: [{ path: "/d/a.nii.gz", size: 1, mtime_ms: 2 }] },
  options: { fa_thr: 0.2, sh_order: 6 },
  csttool_argv: ["csttool", "run"],
  output_dir: "sub-001",
  log_file: "logs/sub-001.log",
  config_hash: "h",
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
  ["task, dicom_link_dir defaulted and entities defaulted", PlanTaskSchema, { ...task }],
  ["task, odd sh_order (refinement)", PlanTaskSchema, { ...task, options: { sh_order: 5 } }],
  ["task, unknown option", PlanTaskSchema, { ...task, options: { nope: true } }],
  ["task, negative index", PlanTaskSchema, { ...task, index: -1 }],
  ["task, one-element argv", PlanTaskSchema, { ...task, csttool_argv: ["csttool"] }],
  ["task, dicom input without series", PlanTaskSchema, { ...task, input: { kind: "dicom", dicom_dir: "/d" } }],
  ["refs", PlanRefsSchema, { schema_version: 1, kind: "cst-batch-plan-refs", plan_id: "p", plan_bytes: 10, tasks: [{ index: 0, key: "k", subject: "sub-1", session: null, output_dir: "o", config_hash: "h" }] }],
  ["refs, bad task", PlanRefsSchema, { schema_version: 1, kind: "cst-batch-plan-refs", plan_id: "p", plan_bytes: 10, tasks: [{ index: 0 }] }],
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
