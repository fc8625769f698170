import path from "node:path";
import { CstError, errnoCode } from "../errors.js";
import { resolveStudyDir } from "../study/study-folder.js";
import { setAsideOf, type SetAside } from "../study/set-aside.js";
import type { InvalidSubject } from "../schemas/plan.js";
import { currentPlanFile, loadPlanRefs, type PlanTaskRef } from "../plan/load-plan.js";
import { OUTPUT_FILES, studyLinkChecked } from "../layout.js";
import { assertNoLinks } from "../util/confined-fs.js";
import { FAILURE_CATEGORIES, type AttemptRecord, type PlanHeader } from "../schemas/records.js";
import type { Summary } from "../schemas/study-records.js";
import { mapLimit } from "../util/map-limit.js";
import {
  readLogNames,
  readTaskState,
  taskIoFor,
  type IoMode,
  type TaskIo,
  type TaskState,
} from "../state/task-state.js";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic-write.js";
import { jsonPiecesByElement } from "../util/json-pieces.js";
import { CST_BATCH_VERSION } from "../version.js";
import { datasetDescription, participantsTsv } from "./bids.js";
import { foreignOutputProblem, foreignOutputs } from "./own-outputs.js";
import { CSV_EOL, csvRow, numberCell } from "./csv.js";
import { AtomicSpool, InOrder } from "./spool.js";
import { readTaskMetrics } from "./find-metrics.js";
import { CSV_COLUMNS, METRIC_COLUMNS } from "../metrics/metrics-columns.js";
import { pickReportMetrics, type ReportRowInput } from "../report/data.js";
import { writeBatchReport } from "../report/write-report.js";
import { recordEvent } from "../events/events.js";
import { canaryNote } from "./canary-note.js";

export interface CollectOptions {
  /** Plan to collect; default the current plan (`<out>/.cst-batch/plan.jsonl`, or a schema-1 study's `plan.json`). */
  planFile?: string;
  /** Subject folders read at once with async I/O; default 64. */
  concurrency?: number;
  /** File reading strategy (see `IoMode`); default "auto". */
  io?: IoMode;
}

export interface CollectResult {
  summary: Summary;
  /** Absolute paths of the files written. */
  files: string[];
  /** Damaged or missing state and metrics files, by path (also in the summary). */
  problems: string[];
  /** How the plan was made (source, per-subject timeout), for the failure catalogue's next steps. */
  plan: Pick<PlanHeader, "source" | "run">;
}

type SummaryTask = Summary["tasks"][number];

/** Longest error excerpt kept per task (message + the last lines of csttool's log). */
const ERROR_EXCERPT_CHARS = 2000;
const ERROR_TAIL_LINES = 5;

/**
 * Read every task's state under `out` and write `batch_summary.json`, `batch_metrics.csv`,
 * `batch_report.html`, `dataset_description.json` and `participants.tsv`, each atomically. Safe to run at any time,
 * also while tasks run: it only reads subject folders, and running tasks are reported as such.
 */
export async function collect(out: string, opts: CollectOptions = {}): Promise<CollectResult> {
  const outDir = path.resolve(out);
  const planFile = path.resolve(opts.planFile ?? currentPlanFile(outDir));
  const plan = await loadPlanRefs(planFile, outDir);
  // Refuses a plan of another study before anything is read or written here.
  resolveStudyDir(outDir, plan, planFile);
  const io = await taskIoFor(outDir, opts.io);
  const logNames = await readLogNames(outDir, io);
  const files = {
    summary: path.join(outDir, OUTPUT_FILES.summary),
    csv: path.join(outDir, OUTPUT_FILES.metricsCsv),
    description: path.join(outDir, OUTPUT_FILES.datasetDescription),
    participants: path.join(outDir, OUTPUT_FILES.participants),
  };
  assertNoLinks(outDir, studyLinkChecked(outDir));
  // A study-level file of the user's own is left alone (src/collect/own-outputs.ts).
  const foreign = foreignOutputs(outDir);
  // The CSV is written row by row, in plan order, as the folders are read (~1.4 KB a row: never
  // all of them in memory); it is put in place once every row is there.
  const csvSpool = foreign.has(files.csv) ? null : await openOutput(files.csv, () => new AtomicSpool(files.csv, outDir));
  csvSpool?.write(csvRow(CSV_COLUMNS) + CSV_EOL);
  const csvInOrder = new InOrder<string>((row) => csvSpool?.write(row + CSV_EOL));

  let lockNote: string | null = null;
  let rows: TaskRow[];
  try {
    rows = await mapLimit(
      plan.tasks,
      opts.concurrency ?? 64,
      async (task, i) => {
        const state = await readTaskState(outDir, task, { logNames, io });
        if (state.lock.kind === "unsupported") lockNote ??= state.lock.reason;
        const row = await collectTask(outDir, task, state, io);
        csvInOrder.put(i, row.csv);
        row.csv = "";
        return row;
      },
      io.mode === "sync" ? 4 : 0,
    );
  } catch (e) {
    csvSpool?.abort();
    throw e;
  }

  // Invalid subjects (--skip-invalid) are in no task: one CSV row each, status "invalid", their problems as the error.
  const setAside = setAsideOf(plan);
  for (const inv of setAside.invalid) csvSpool?.write(invalidCsvRow(inv) + CSV_EOL);

  const problems = rows.flatMap((r) => r.problems);
  if (lockNote) problems.push(`subject locks could not be probed (${lockNote}); running tasks may show as pending or failed`);

  const tasks = rows.map((r) => r.record);
  const summary: Summary = {
    schema_version: 1,
    kind: "cst-batch-summary",
    generated_at: new Date().toISOString(),
    cst_batch_version: CST_BATCH_VERSION,
    plan: { plan_id: plan.plan_id, path: planFile, created_at: plan.created_at, task_count: plan.tasks.length },
    counts: countStatuses(tasks, setAside),
    by_category: countCategories(tasks),
    tasks,
    problems,
    ...nonEmpty(setAside),
  };
  const canary = await canaryNote(outDir, plan.plan_id, tasks);
  if (canary) summary.canary = canary;

  const written: string[] = [];
  const writeReport = async (file: string, write: () => Promise<void>): Promise<void> => {
    if (foreign.has(file)) {
      problems.push(foreignOutputProblem(file));
      return;
    }
    await writeOutput(file, write);
    written.push(file);
  };
  // Streamed above: 200,000 rows of ~90 columns are ~280 MB of text, never held.
  await writeReport(files.csv, async () => csvSpool?.commit());
  const reportFile = path.join(outDir, OUTPUT_FILES.report);
  await writeReport(reportFile, async () => {
    const written = await writeBatchReport(outDir, {
      generatedAt: summary.generated_at,
      planId: plan.plan_id,
      csttoolVersion: plan.csttool.version,
      counts: summary.counts,
      byCategory: summary.by_category,
      problemCount: problems.length,
      setAside,
      rows: rows.map((r) => r.report),
    });
    if (written.problem) problems.push(written.problem);
  });
  await writeReport(files.description, () => writeJsonAtomic(files.description, datasetDescription(plan), { root: outDir }));
  const participants = participantsTsv(tasks.map((t) => ({ subject: t.subject, session: t.session, success: t.status === "success" })));
  await writeReport(files.participants, () => writeFileAtomic(files.participants, participants, { root: outDir }));
  // The summary last: its presence says the other reports of this run are in place.
  await writeReport(files.summary, () => writeFileAtomic(files.summary, jsonPiecesByElement(summary, "tasks"), { root: outDir }));

  recordEvent(outDir, { event: "collected", plan_id: plan.plan_id, counts: summary.counts, by_category: summary.by_category, problems: problems.length });
  return { summary, files: written, problems, plan: { source: plan.source, run: plan.run } };
}

/** Open an output written piece by piece; a filesystem error becomes a CstError naming the file. */
async function openOutput<T>(file: string, open: () => T): Promise<T> {
  let opened: T | undefined;
  await writeOutput(file, async () => {
    opened = open();
  });
  return opened as T;
}

/** Run one atomic write; a filesystem error becomes a CstError naming the file. */
async function writeOutput(file: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    throw new CstError("SYSTEM", `cannot write ${file}: ${(e as Error).message}`, {
      cause: e,
      hint: errnoCode(e) === "ENOSPC" ? "the output filesystem is full; free space and run collect again" : "check that the output folder is writable",
    });
  }
}

interface TaskRow {
  record: SummaryTask;
  /** Emptied once the CSV is written. */
  csv: string;
  problems: string[];
  report: ReportRowInput;
}

/** One task's summary record and CSV row; the metrics JSON is reduced to its row here and dropped. */
async function collectTask(outDir: string, task: PlanTaskRef, state: TaskState, io: TaskIo): Promise<TaskRow> {
  const problems = [...state.problems];
  const error = state.status === "failed" && state.latestAttempt ? errorExcerpt(state.latestAttempt) : null;
  const record: SummaryTask = {
    index: task.index,
    subject: task.subject,
    session: task.session,
    status: state.status,
    category: state.category,
    attempts: state.attempts,
    duration_seconds: state.durationSeconds,
    log_path: state.logPath,
    error_log_path: state.errorLogPath,
    error,
    host: state.host,
    job_id: state.jobId,
    max_rss_kb: state.maxRssKb,
    max_rss_source: state.maxRssSource,
    output_dir: task.output_dir,
  };

  let metricCells: string[] = METRIC_COLUMNS.map(() => "");
  let metricsFile = "";
  let metricValues: unknown[] | null = null;
  if (state.status === "success") {
    const m = await readTaskMetrics({
      out: outDir,
      outputDir: task.output_dir,
      subject: task.subject,
      key: task.key,
      doneMetricsFile: state.doneRecord?.metrics_file ?? null,
    }, io);
    problems.push(...m.problems);
    if (m.values) metricCells = m.values.map(numberCell);
    metricValues = m.values;
    metricsFile = m.file ?? "";
  }

  const csv = csvRow([
    task.subject,
    task.session ?? "",
    state.status,
    state.category ?? "",
    numberCell(state.durationSeconds),
    error ?? "",
    ...metricCells,
    String(state.attempts),
    state.host ?? "",
    state.jobId ?? "",
    numberCell(state.maxRssKb),
    state.maxRssSource ?? "",
    task.config_hash,
    metricsFile,
  ]);
  const report: ReportRowInput = {
    subject: task.subject,
    session: task.session,
    status: state.status,
    category: state.category,
    durationSeconds: state.durationSeconds,
    maxRssKb: state.maxRssKb,
    maxRssSource: state.maxRssSource,
    attempts: state.attempts,
    host: state.host,
    logPath: state.logPath,
    errorLogPath: state.errorLogPath,
    error,
    htmlReport: state.status === "success" ? joinRel(task.output_dir, state.htmlReport) : null,
    metrics: pickReportMetrics(metricValues),
  };
  return { record, csv, problems, report };
}

function joinRel(dir: string, file: string | null): string | null {
  return file === null ? null : path.join(dir, file);
}

/** The attempt's message and the last lines of csttool's log, capped in length. */
export function errorExcerpt(attempt: AttemptRecord): string {
  const tail = attempt.log_tail.slice(-ERROR_TAIL_LINES);
  const text = [attempt.message, ...tail].join("\n").trimEnd();
  return text.length > ERROR_EXCERPT_CHARS ? text.slice(0, ERROR_EXCERPT_CHARS - 1) + "…" : text;
}

/** Counts by status; `total` includes the invalid subjects (set aside, not run), not the excluded ones. */
function countStatuses(tasks: readonly SummaryTask[], setAside: SetAside): Summary["counts"] {
  const invalid = setAside.invalid.length;
  const counts = { total: tasks.length + invalid, success: 0, failed: 0, pending: 0, running: 0, stale: 0, invalid, excluded: setAside.excluded.length };
  for (const t of tasks) counts[t.status]++;
  return counts;
}

/** The CSV row of an invalid subject: status `invalid`, its problems (with their fixes) as the error, no metrics. */
function invalidCsvRow(inv: InvalidSubject): string {
  const error = inv.problems.map((p) => `${p.message}; fix: ${p.fix}`).join("\n");
  return csvRow([inv.subject, inv.session ?? "", "invalid", "", "", error, ...METRIC_COLUMNS.map(() => ""), "0", "", "", "", "", "", ""]);
}

/** Failed tasks per category, in the catalogue's order; categories with none are left out. */
function countCategories(tasks: readonly SummaryTask[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const t of tasks) if (t.status === "failed" && t.category) counts.set(t.category, (counts.get(t.category) ?? 0) + 1);
  const out: Record<string, number> = {};
  for (const c of FAILURE_CATEGORIES) {
    const n = counts.get(c);
    if (n) out[c] = n;
  }
  return out;
}

/** The set-aside lists that have entries (a summary without any keeps the shape it always had). */
function nonEmpty(s: SetAside): Partial<SetAside> {
  return { ...(s.invalid.length > 0 ? { invalid: s.invalid } : {}), ...(s.excluded.length > 0 ? { excluded: s.excluded } : {}) };
}
