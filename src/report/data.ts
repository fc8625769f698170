import type { SetAside } from "../study/set-aside.js";
import path from "node:path";
import { METRIC_COLUMNS } from "../metrics/metrics-columns.js";
import { findOutliers, metricStats } from "./outliers.js";
import type { ReportSample } from "./report-rows.js";

/**
 * The report's data: one compact JSON document embedded in the page (rows as arrays under a
 * column list, so 10,000 subjects stay a few MB), built without per-row I/O.
 */

/** Metrics plotted and screened for outliers, by their batch_metrics.csv column name. */
export const REPORT_METRICS = [
  "left_fa_mean",
  "right_fa_mean",
  "fa_laterality_index",
  "md_laterality_index",
  "volume_laterality_index",
  "streamline_count_laterality_index",
] as const;
export type ReportMetric = (typeof REPORT_METRICS)[number];

const METRIC_INDEX: readonly number[] = REPORT_METRICS.map((name) => METRIC_COLUMNS.findIndex((c) => c.name === name));

/** REPORT_METRICS' values from a row of METRIC_COLUMNS values (null for absent or non-finite). */
export function pickReportMetrics(values: readonly unknown[] | null): (number | null)[] | null {
  if (!values) return null;
  return METRIC_INDEX.map((i) => {
    const v = values[i];
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  });
}

export { findHtmlReport } from "../state/done.js";

/** The laterality indices drawn as distributions. */
export const LATERALITY_METRICS: readonly ReportMetric[] = [
  "fa_laterality_index",
  "md_laterality_index",
  "volume_laterality_index",
  "streamline_count_laterality_index",
];

/** Error excerpts are cut to this length in the page (the full excerpt is in batch_summary.json). */
export const REPORT_ERROR_CHARS = 600;
/** Outliers listed per metric in the page (most extreme first). */
export const MAX_OUTLIERS_PER_METRIC = 50;

export interface ReportRowInput {
  subject: string;
  session: string | null;
  status: "success" | "failed" | "pending" | "running" | "stale";
  category: string | null;
  durationSeconds: number | null;
  maxRssKb: number | null;
  /** Where maxRssKb came from (cgroup, rusage, sampled, sacct); null when unknown (docs/peak-memory.md). */
  maxRssSource?: string | null;
  attempts: number;
  host: string | null;
  /** Relative to out. */
  logPath: string;
  errorLogPath: string | null;
  error: string | null;
  /** csttool's own HTML report, relative to out (e.g. `sub-01/reports/sub-01_report.html`). */
  htmlReport: string | null;
  /** Values of REPORT_METRICS, in that order (null when absent or not finite). */
  metrics: readonly (number | null)[] | null;
}

export interface ReportInput {
  generatedAt: string;
  planId: string;
  csttoolVersion: string | null;
  counts: { total: number; success: number; failed: number; pending: number; running: number; stale: number; invalid?: number; excluded?: number };
  byCategory: Record<string, number>;
  problemCount: number;
  /** Subjects the plan set aside (invalid: not run; excluded by --include/--exclude). */
  setAside?: SetAside;
  /** Every subject, or the page's share of a large study (`sample` says which; src/report/report-rows.ts). */
  rows: readonly ReportRowInput[];
  /** Set when `rows` are a sample of a larger study. */
  sample?: ReportSample | null;
  /** Outliers computed over every successful subject (when `rows` are a sample); else from `rows`. */
  outliers?: ReportOutlier[];
}

export const ROW_COLUMNS = [
  "key",
  "subject",
  "session",
  "status",
  "category",
  "duration_s",
  "max_rss_mb",
  "max_rss_source",
  "attempts",
  "host",
  "log",
  "error_log",
  "report",
  "error",
  ...REPORT_METRICS,
] as const;

export interface ReportOutlier {
  key: string;
  metric: ReportMetric;
  value: number;
  z: number | null;
  reason: string;
}

export interface ReportData {
  meta: {
    generated_at: string;
    plan_id: string;
    csttool_version: string | null;
    counts: ReportInput["counts"];
    by_category: Record<string, number>;
    problems: number;
    invalid: { key: string; problem: string }[];
    excluded: number;
    metrics: readonly string[];
    laterality: readonly string[];
    rule: string;
    /** Set when the page holds a sample of a larger study (the page says so). */
    sample: ReportSample | null;
  };
  cols: readonly string[];
  rows: unknown[][];
  outliers: ReportOutlier[];
}

/**
 * A path relative to out as an href that keeps working when the folder moves: each segment
 * percent-encoded; absolute paths and `..` segments are refused (null).
 */
export function relativeHref(rel: string | null): string | null {
  if (!rel) return null;
  const posix = rel.split(path.sep).join("/");
  if (posix.startsWith("/") || /^[A-Za-z]:/.test(posix)) return null;
  const segments = posix.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.length === 0 || segments.includes("..")) return null;
  return segments.map((s) => encodeURIComponent(s)).join("/");
}

function cut(text: string | null, max: number): string | null {
  if (text === null) return null;
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function round(v: number | null, digits: number): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** The compact data document for the page (rows as arrays, outliers computed here). */
export function buildReportData(input: ReportInput): ReportData {
  const rows: unknown[][] = new Array(input.rows.length);
  const keys: string[] = new Array(input.rows.length);
  for (let i = 0; i < input.rows.length; i++) {
    const r = input.rows[i] as ReportRowInput;
    const key = r.session ? `${r.subject}_${r.session}` : r.subject;
    keys[i] = key;
    const row: unknown[] = [
      key,
      r.subject,
      r.session,
      r.status,
      r.category,
      round(r.durationSeconds, 1),
      r.maxRssKb === null ? null : Math.round(r.maxRssKb / 1024),
      r.maxRssKb === null ? null : (r.maxRssSource ?? null),
      r.attempts,
      r.host,
      relativeHref(r.logPath),
      relativeHref(r.errorLogPath),
      relativeHref(r.htmlReport),
      cut(r.error, REPORT_ERROR_CHARS),
    ];
    for (let m = 0; m < REPORT_METRICS.length; m++) {
      const v = r.metrics?.[m];
      row.push(typeof v === "number" && Number.isFinite(v) ? v : null);
    }
    rows[i] = row;
  }

  const outliers: ReportOutlier[] = input.outliers ? [...input.outliers] : [];
  if (!input.outliers) REPORT_METRICS.forEach((metric, m) => {
    const values = input.rows.map((r) => (r.status === "success" ? (r.metrics?.[m] ?? null) : null));
    const found = findOutliers(values, metricStats(values)).slice(0, MAX_OUTLIERS_PER_METRIC);
    for (const o of found) outliers.push({ key: keys[o.index] as string, metric, value: o.value, z: round(o.z, 2), reason: o.reason });
  });

  return {
    meta: {
      generated_at: input.generatedAt,
      plan_id: input.planId,
      csttool_version: input.csttoolVersion,
      counts: input.counts,
      by_category: input.byCategory,
      problems: input.problemCount,
      invalid: (input.setAside?.invalid ?? []).map((i) => ({ key: i.key, problem: i.problems.map((p) => p.message).join("; ") })),
      excluded: input.setAside?.excluded.length ?? 0,
      metrics: REPORT_METRICS,
      laterality: LATERALITY_METRICS,
      rule: `outside Q1 - 1.5 IQR .. Q3 + 1.5 IQR, or |z| > 3 (successful subjects; at most ${MAX_OUTLIERS_PER_METRIC} per metric listed)`,
      sample: input.sample ?? null,
    },
    cols: ROW_COLUMNS,
    rows,
    outliers,
  };
}
