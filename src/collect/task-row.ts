import path from "node:path";
import type { PlanTaskRef } from "../plan/load-plan.js";
import type { AttemptRecord } from "../schemas/records.js";
import type { InvalidSubject } from "../schemas/plan.js";
import type { Summary } from "../schemas/study-records.js";
import type { TaskIo, TaskState } from "../state/task-state.js";
import { METRIC_COLUMNS } from "../metrics/metrics-columns.js";
import { pickReportMetrics, type ReportRowInput } from "../report/data.js";
import { csvRow, numberCell } from "./csv.js";
import { readTaskMetrics } from "./find-metrics.js";

/** One task's rows in collect's outputs: its summary record, its CSV row and its report row. */

export type SummaryTask = Summary["tasks"][number];

/** Longest error excerpt kept per task (message + the last lines of csttool's log). */
const ERROR_EXCERPT_CHARS = 2000;
const ERROR_TAIL_LINES = 5;

export interface TaskRow {
  record: SummaryTask;
  /** Emptied once the CSV is written. */
  csv: string;
  problems: string[];
  report: ReportRowInput;
}

/** One task's summary record and CSV row; the metrics JSON is reduced to its row here and dropped. */
export async function collectTask(outDir: string, task: PlanTaskRef, state: TaskState, io: TaskIo): Promise<TaskRow> {
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

export /** The CSV row of an invalid subject: status `invalid`, its problems (with their fixes) as the error, no metrics. */
function invalidCsvRow(inv: InvalidSubject): string {
  const error = inv.problems.map((p) => `${p.message}; fix: ${p.fix}`).join("\n");
  return csvRow([inv.subject, inv.session ?? "", "invalid", "", "", error, ...METRIC_COLUMNS.map(() => ""), "0", "", "", "", "", "", ""]);
}

