/**
 * Output folders built by hand for the state and collect tests: a plan, `_done.json` records,
 * csttool metrics JSON in both layouts (Python tokens included), failed attempts and damaged files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  AttemptRecordSchema,
  AttemptStartSchema,
  DoneRecordSchema,
  PlanV1Schema,
  PlanTaskV1Schema,
  type AttemptRecord,
  type DoneRecord,
  type FailureCategory,
  type PlanTask,
  type Plan as LoadedPlanOf,
} from "../../src/schemas/records.js";
import {
  ATTEMPT_FILE,
  DONE_FILE,
  FAILED_DIR,
  LOCK_FILE,
  WORK_DIR,
  legacyCurrentPlanPath,
  logsDir,
  relativeErrorLogFile,
  relativeLogFile,
  relativeTaskDir,
  taskKey,
} from "../../src/layout.js";

/** These fixtures are a study planned before schema 2: status and collect read its `plan.json` (schema 1). */
type Plan = ReturnType<typeof PlanV1Schema.parse>;
type LoadedPlan = LoadedPlanOf;
type PlanTaskV1 = ReturnType<typeof PlanTaskV1Schema.parse>;

export function makeTempOut(prefix = "cst-collect-"): { out: string; cleanup: () => void } {
  const out = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { out, cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

export interface TaskSpec {
  subject: string;
  session?: string | null;
  configHash?: string;
}

/** A valid plan task (NIfTI input) for a subject / session. */
export function makeTask(out: string, index: number, spec: TaskSpec): PlanTaskV1 {
  const session = spec.session ?? null;
  const key = taskKey(spec.subject, session);
  const nifti = `/data/bids/${spec.subject}/dwi/${key}_dwi.nii.gz`;
  return PlanTaskV1Schema.parse({
    index,
    key,
    subject: spec.subject,
    session,
    input: {
      kind: "nifti",
      nifti,
      bval: nifti.replace(/\.nii\.gz$/, ".bval"),
      bvec: nifti.replace(/\.nii\.gz$/, ".bvec"),
      json: null,
      entities: {},
      identity: [{ path: nifti, size: 1234, mtime_ms: 1_700_000_000_000 }],
    },
    options: {},
    csttool_argv: ["csttool", "run", "--nifti", nifti, "--out", path.join(out, relativeTaskDir(spec.subject, session), WORK_DIR, "csttool")],
    dicom_link_dir: null,
    output_dir: relativeTaskDir(spec.subject, session),
    log_file: relativeLogFile(key),
    config_hash: spec.configHash ?? "cfg-1",
  });
}

export interface PlanSpec {
  source?: Plan["source"];
  csttoolVersion?: string;
  planId?: string;
}

/** Write a schema-1 `<out>/.cst-batch/plan.json` with tasks in the given order (indices 0..n-1). */
export function writePlan(out: string, specs: TaskSpec[], opts: PlanSpec = {}): LoadedPlan {
  const tasks = specs.map((s, i) => makeTask(out, i, s));
  const plan = PlanV1Schema.parse({
    schema_version: 1,
    kind: "cst-batch-plan",
    plan_id: opts.planId ?? "plan-abc123",
    created_at: "2026-01-02T03:04:05.000Z",
    cst_batch_version: "0.1.0",
    out_dir: out,
    source: opts.source ?? { type: "bids", bids_dir: "/data/bids" },
    csttool: { executable: "/usr/bin/csttool", version: opts.csttoolVersion ?? "0.5.1" },
    options: {},
    run: { timeout_minutes: 120, grace_seconds: 30 },
    task_count: tasks.length,
    skipped: [],
    tasks,
  });
  mkdirSync(path.dirname(legacyCurrentPlanPath(out)), { recursive: true });
  writeFileSync(legacyCurrentPlanPath(out), JSON.stringify(plan, null, 2));
  // As readers see it (a schema-1 plan has no input_root); the tasks keep their schema-1 fields.
  return { ...plan, input_root: "" };
}

function taskDir(out: string, task: PlanTask): string {
  const dir = path.join(out, task.output_dir);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function runIdentity(task: PlanTask, o: { finishedAt?: string; durationSeconds?: number; host?: string; jobId?: string | null; maxRssKb?: number | null; configHash?: string }) {
  const finished = o.finishedAt ?? "2026-01-03T10:00:00.000Z";
  const duration = o.durationSeconds ?? 3600.25;
  return {
    schema_version: 1 as const,
    subject: task.subject,
    session: task.session,
    task_key: task.key,
    config_hash: o.configHash ?? task.config_hash,
    plan_id: "plan-abc123",
    csttool_version: "0.5.1",
    cst_batch_version: "0.1.0",
    started_at: new Date(Date.parse(finished) - duration * 1000).toISOString(),
    finished_at: finished,
    duration_seconds: duration,
    host: o.host ?? "node01",
    pid: 4242,
    job_id: o.jobId === undefined ? "1234_5" : o.jobId,
    csttool_argv: "csttool_argv" in task ? (task as PlanTaskV1).csttool_argv : ["csttool", "run"],
    max_rss_kb: o.maxRssKb === undefined ? 2_048_000 : o.maxRssKb,
  };
}

export interface DoneSpec {
  finishedAt?: string;
  durationSeconds?: number;
  host?: string;
  jobId?: string | null;
  maxRssKb?: number | null;
  /** Written into `_done.json`; relative to the subject folder. */
  metricsFile?: string | null;
  /** Default: the task's own (current); another value makes the record outdated. */
  configHash?: string;
}

export function writeDone(out: string, task: PlanTask, o: DoneSpec = {}): DoneRecord {
  const record = DoneRecordSchema.parse({
    ...runIdentity(task, o),
    kind: "cst-batch-done",
    exit_code: 0,
    files: [{ path: "dwi/x.nii.gz", size: 10 }],
    metrics_file: o.metricsFile === undefined ? null : o.metricsFile,
  });
  writeFileSync(path.join(taskDir(out, task), DONE_FILE), JSON.stringify(record, null, 2));
  return record;
}

export interface AttemptSpec {
  category?: FailureCategory;
  message?: string;
  logTail?: string[];
  finishedAt?: string;
  durationSeconds?: number;
  host?: string;
  jobId?: string | null;
  maxRssKb?: number | null;
  configHash?: string;
}

/** `_failed_attempts/<timestamp>_<CATEGORY>/attempt.json` (+ csttool.log). */
export function writeFailedAttempt(out: string, task: PlanTask, o: AttemptSpec = {}): AttemptRecord {
  const category = o.category ?? "PIPELINE_FAILED";
  const finished = o.finishedAt ?? "2026-01-03T09:00:00.000Z";
  const attemptId = `${finished.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}_${category}`;
  const record = AttemptRecordSchema.parse({
    ...runIdentity(task, { ...o, finishedAt: finished }),
    kind: "cst-batch-attempt",
    attempt_id: attemptId,
    category,
    exit_code: 1,
    signal: null,
    message: o.message ?? "csttool exited with status 1",
    next_step: "read the log",
    log_tail: o.logTail ?? [],
    recorded_by: "run-one",
  });
  const dir = path.join(taskDir(out, task), FAILED_DIR, attemptId);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, ATTEMPT_FILE), JSON.stringify(record, null, 2));
  writeFileSync(path.join(dir, "csttool.log"), (o.logTail ?? []).join("\n"));
  return record;
}

/** A failed-attempt folder whose record is damaged; returns the record's path. */
export function writeCorruptAttempt(out: string, task: PlanTask, name = "20260103T080000Z_SYSTEM"): string {
  const dir = path.join(taskDir(out, task), FAILED_DIR, name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, ATTEMPT_FILE);
  writeFileSync(file, '{"schema_version": 1, "kind": "cst-batch-attempt", "attempt_id": ');
  return file;
}

/** A `_done.json` that is not valid JSON; returns its path. */
export function writeCorruptDone(out: string, task: PlanTask): string {
  const file = path.join(taskDir(out, task), DONE_FILE);
  writeFileSync(file, '{"schema_version": 1, "kind": "cst-batch-done", "subject": ');
  return file;
}

/** `_work/attempt.json`: an attempt has started. */
export function writeAttemptStart(out: string, task: PlanTask): void {
  const dir = path.join(taskDir(out, task), WORK_DIR);
  mkdirSync(dir, { recursive: true });
  const record = AttemptStartSchema.parse({
    schema_version: 1,
    kind: "cst-batch-attempt-start",
    subject: task.subject,
    session: task.session,
    task_key: task.key,
    config_hash: task.config_hash,
    plan_id: "plan-abc123",
    started_at: "2026-01-03T11:00:00.000Z",
    host: "node02",
    pid: 999,
    job_id: "77_1",
  });
  writeFileSync(path.join(dir, ATTEMPT_FILE), JSON.stringify(record));
}

export function lockFile(out: string, task: PlanTask): string {
  return path.join(taskDir(out, task), LOCK_FILE);
}

export function writeLogs(out: string, task: PlanTask, withError: boolean): void {
  mkdirSync(logsDir(out), { recursive: true });
  writeFileSync(path.join(out, relativeLogFile(task.key)), "log\n");
  if (withError) writeFileSync(path.join(out, relativeErrorLogFile(task.key)), "Traceback\n");
}

// ------------------------------------------------------------------ metrics JSON

/** A metric value as Python's json.dump writes it: a number, or a bare NaN / Infinity / -Infinity. */
export type PyNumber = number | "NaN" | "Infinity" | "-Infinity";

export interface MetricsSpec {
  subjectId?: string;
  left?: SideSpec;
  right?: SideSpec;
  /** asymmetry entries: key -> laterality_index (e.g. volume, fa, fa_pontine). */
  asymmetry?: Record<string, PyNumber>;
}

export interface SideSpec {
  n_streamlines?: PyNumber;
  mean_length?: PyNumber;
  tract_volume?: PyNumber;
  /** scalar -> fields (mean, std, pontine, plic, precentral); an absent scalar is left out. */
  scalars?: Record<string, Record<string, PyNumber>>;
}

/** A full metrics document with every block present, distinct values per cell. */
export function fullMetricsSpec(): MetricsSpec {
  const side = (base: number): SideSpec => ({
    n_streamlines: base === 1 ? 1520 : 1388,
    mean_length: base === 1 ? 112.53125 : 109.0,
    tract_volume: base === 1 ? 20345.5 : 19876.25,
    scalars:
      base === 1
        ? {
            fa: { mean: 0.5123456789012345, std: 0.101, pontine: 0.61, plic: 0.62, precentral: 0.43 },
            md: { mean: 0.000712345678, std: 0.0000412, pontine: 0.00071, plic: 0.00072, precentral: 0.00073 },
            rd: { mean: 0.00051, std: 0.00002, pontine: 0.0005, plic: 0.00052, precentral: 0.00053 },
            ad: { mean: 0.00121, std: 0.00003, pontine: 0.0012, plic: 0.00122, precentral: 0.00123 },
          }
        : {
            fa: { mean: 0.498, std: 0.099, pontine: 0.6, plic: 0.63, precentral: 0.44 },
            md: { mean: 0.00070, std: 0.0000401, pontine: 0.000701, plic: 0.000721, precentral: 0.000731 },
            rd: { mean: 0.000505, std: 0.000021, pontine: 0.000501, plic: 0.000521, precentral: 0.000531 },
            ad: { mean: 0.001205, std: 0.000031, pontine: 0.001201, plic: 0.001221, precentral: 7.1e-7 },
          },
  });
  const asymmetry: Record<string, PyNumber> = { volume: 0.0117, streamline_count: 0.0454, mean_length: 0.016 };
  for (const s of ["fa", "md", "rd", "ad"]) {
    asymmetry[s] = 0.01;
    for (const r of ["pontine", "plic", "precentral"]) asymmetry[`${s}_${r}`] = -0.02;
  }
  return { left: side(1), right: side(2), asymmetry };
}

/** Text of a metrics JSON as Python writes it (bare NaN / Infinity tokens, not valid JSON). */
export function metricsJsonText(spec: MetricsSpec): string {
  const num = (v: PyNumber | undefined): string => (v === undefined ? "null" : typeof v === "number" ? JSON.stringify(v) : v);
  const obj = (entries: [string, string][]): string => `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(", ")}}`;
  const side = (s: SideSpec | undefined): string => {
    if (!s) return "{}";
    const entries: [string, string][] = [
      ["morphology", obj([["n_streamlines", num(s.n_streamlines)], ["mean_length", num(s.mean_length)], ["tract_volume", num(s.tract_volume)]])],
    ];
    for (const [scalar, fields] of Object.entries(s.scalars ?? {})) {
      entries.push([scalar, obj(Object.entries(fields).map(([k, v]) => [k, num(v)]))]);
    }
    return obj(entries);
  };
  const asym = obj(Object.entries(spec.asymmetry ?? {}).map(([k, v]) => [k, obj([["laterality_index", num(v)]])]));
  return [
    "{",
    `  "subject_id": ${JSON.stringify(spec.subjectId ?? "sub-x")},`,
    `  "csttool_version": "0.5.1",`,
    `  "processing_date": "2026-01-03",`,
    // Tokens inside strings must survive the lenient parse untouched.
    `  "processing": {"note": "NaN and -Infinity are fine in strings", "path": "C:\\\\NaN\\"x"},`,
    `  "qc_thresholds": {"max_fa": Infinity},`,
    `  "metrics": {"left": ${side(spec.left)}, "right": ${side(spec.right)}, "asymmetry": ${asym}}`,
    "}",
  ].join("\n");
}

/** csttool 0.5 layout: `<subject dir>/reports/<key>_metrics.json`; returns the path relative to the subject dir. */
export function writeMetricsReports(out: string, task: PlanTask, text: string): string {
  const rel = path.join("reports", `${task.key}_metrics.json`);
  const file = path.join(taskDir(out, task), rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return rel;
}

/** Older layout: `<subject dir>/metrics/<sub>_bilateral_metrics.json`. */
export function writeMetricsLegacy(out: string, task: PlanTask, text: string): string {
  const rel = path.join("metrics", `${task.subject}_bilateral_metrics.json`);
  const file = path.join(taskDir(out, task), rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return rel;
}

// ------------------------------------------------------------------ CSV reading for assertions

/** Parse RFC 4180 text (quoted fields with "", CR/LF inside quotes) into rows of fields. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        field += ch;
        i++;
      }
    } else if (ch === '"') {
      quoted = true;
      i++;
    } else if (ch === ",") {
      row.push(field);
      field = "";
      i++;
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i += 2;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Rows as objects keyed by the header. */
export function csvRecords(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries((header ?? []).map((h, i) => [h, r[i] ?? ""])));
}
