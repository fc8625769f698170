import type { ReportData } from "./data.js";
import { LATERALITY_METRICS } from "./data.js";
import { FAILURE_CATEGORIES } from "../schemas/records.js";

/**
 * The Vega-Lite specs of the page. The per-subject rows are not repeated here: specs name the
 * dataset `subjects`, which the page fills from the embedded rows; the small derived datasets
 * (status counts, outlier labels) are inline. Pure functions over the report data.
 */

type Spec = Record<string, unknown>;

export interface ChartSpec {
  id: string;
  title: string;
  /** Shown under the chart. */
  note: string;
  spec: Spec;
}

/** Outlier labels drawn per chart (the full list is in the page's outlier table). */
export const MAX_LABELS_PER_METRIC = 15;

const STATUS_COLORS = { success: "#2e7d32", failed: "#c62828", running: "#1565c0", stale: "#ef6c00", pending: "#9e9e9e" } as const;
const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const WIDTH = 520;

function statusChart(data: ReportData): ChartSpec {
  const c = data.meta.counts;
  const values: { label: string; status: string; count: number; order: number }[] = [];
  if (c.success) values.push({ label: "success", status: "success", count: c.success, order: 0 });
  FAILURE_CATEGORIES.forEach((cat, i) => {
    const n = data.meta.by_category[cat];
    if (n) values.push({ label: `failed: ${cat}`, status: "failed", count: n, order: 1 + i });
  });
  const uncategorised = c.failed - Object.values(data.meta.by_category).reduce((a, b) => a + b, 0);
  if (uncategorised > 0) values.push({ label: "failed: (no record)", status: "failed", count: uncategorised, order: 90 });
  if (c.running) values.push({ label: "running", status: "running", count: c.running, order: 95 });
  if (c.stale) values.push({ label: "stale (died without a record)", status: "stale", count: c.stale, order: 94 });
  if (c.pending) values.push({ label: "pending", status: "pending", count: c.pending, order: 96 });
  return {
    id: "status",
    title: "Subjects by status and failure category",
    note: `${c.total} task(s) in the plan.`,
    spec: {
      $schema: SCHEMA,
      width: WIDTH,
      data: { values },
      encoding: {
        y: { field: "label", type: "nominal", sort: values.map((v) => v.label), title: null },
        x: { field: "count", type: "quantitative", title: "subjects" },
      },
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            color: {
              field: "status",
              type: "nominal",
              scale: { domain: Object.keys(STATUS_COLORS), range: Object.values(STATUS_COLORS) },
              legend: null,
            },
            tooltip: [{ field: "label" }, { field: "count" }],
          },
        },
        { mark: { type: "text", align: "left", dx: 4 }, encoding: { text: { field: "count" } } },
      ],
    },
  };
}

function runtimeChart(): ChartSpec {
  return {
    id: "runtime",
    title: "Runtime of finished attempts",
    note: "csttool's wall time per subject (latest attempt), successful and failed.",
    spec: {
      $schema: SCHEMA,
      width: WIDTH,
      height: 200,
      data: { name: "subjects" },
      transform: [
        { filter: "datum.duration_s != null && (datum.status === 'success' || datum.status === 'failed')" },
        { calculate: "datum.duration_s / 60", as: "minutes" },
      ],
      mark: { type: "bar" },
      encoding: {
        x: { field: "minutes", type: "quantitative", bin: { maxbins: 40 }, title: "runtime (minutes)" },
        y: { aggregate: "count", type: "quantitative", title: "subjects" },
        color: {
          field: "status",
          type: "nominal",
          scale: { domain: ["success", "failed"], range: [STATUS_COLORS.success, STATUS_COLORS.failed] },
        },
        tooltip: [{ aggregate: "count", title: "subjects" }],
      },
    },
  };
}

function memoryChart(): ChartSpec {
  return {
    id: "memory",
    title: "Peak memory per subject",
    note: "Peak resident memory of each subject's run against runtime, one point per subject; the point's shape says where the figure came from (cgroup: the job's memory cgroup, rusage: the largest reaped process, sampled: /proc samples, sacct: the scheduler's MaxRSS).",
    spec: {
      $schema: SCHEMA,
      width: WIDTH,
      height: 260,
      data: { name: "subjects" },
      transform: [
        { filter: "datum.max_rss_mb != null && datum.duration_s != null" },
        { calculate: "datum.duration_s / 60", as: "minutes" },
        { calculate: "datum.max_rss_mb / 1024", as: "gb" },
        { calculate: "datum.max_rss_source || 'unknown'", as: "source" },
      ],
      mark: { type: "point", filled: true, opacity: 0.7 },
      encoding: {
        x: { field: "minutes", type: "quantitative", title: "runtime (minutes)" },
        y: { field: "gb", type: "quantitative", title: "peak memory (GB)" },
        color: {
          field: "status",
          type: "nominal",
          scale: { domain: ["success", "failed"], range: [STATUS_COLORS.success, STATUS_COLORS.failed] },
        },
        shape: { field: "source", type: "nominal", title: "measured by" },
        tooltip: [
          { field: "key", title: "subject" },
          { field: "gb", format: ".2f", title: "GB" },
          { field: "source", title: "measured by" },
          { field: "minutes", format: ".1f", title: "minutes" },
          { field: "category" },
        ],
      },
    },
  };
}

function faChart(data: ReportData): ChartSpec {
  const faMetrics = new Set(["left_fa_mean", "right_fa_mean", "fa_laterality_index"]);
  const labelled = new Set<string>();
  for (const o of data.outliers) if (faMetrics.has(o.metric)) labelled.add(o.key);
  const li = data.cols.indexOf("left_fa_mean");
  const ri = data.cols.indexOf("right_fa_mean");
  const labels: { key: string; left: number; right: number }[] = [];
  for (const row of data.rows) {
    const key = row[0] as string;
    if (!labelled.has(key)) continue;
    const l = row[li];
    const r = row[ri];
    if (typeof l === "number" && typeof r === "number") labels.push({ key, left: l, right: r });
  }
  return {
    id: "fa",
    title: "Left vs right mean FA of the CST",
    note: `One point per successful subject; the line is left = right. Outliers (${data.meta.rule}) in left, right or FA laterality are red and named.`,
    spec: {
      $schema: SCHEMA,
      width: WIDTH,
      height: WIDTH * 0.75,
      layer: [
        {
          data: { name: "subjects" },
          transform: [{ filter: "datum.status === 'success' && datum.left_fa_mean != null && datum.right_fa_mean != null" }],
          mark: { type: "point", filled: true, opacity: 0.6, color: "#455a64" },
          encoding: {
            x: { field: "left_fa_mean", type: "quantitative", scale: { zero: false }, title: "left FA mean" },
            y: { field: "right_fa_mean", type: "quantitative", scale: { zero: false }, title: "right FA mean" },
            tooltip: [
              { field: "key", title: "subject" },
              { field: "left_fa_mean", format: ".3f" },
              { field: "right_fa_mean", format: ".3f" },
              { field: "fa_laterality_index", format: ".3f" },
            ],
          },
        },
        {
          data: { name: "subjects" },
          transform: [
            { filter: "datum.status === 'success' && datum.left_fa_mean != null && datum.right_fa_mean != null" },
            { aggregate: [{ op: "min", field: "left_fa_mean", as: "a" }, { op: "max", field: "left_fa_mean", as: "b" }] },
            { fold: ["a", "b"], as: ["end", "v"] },
          ],
          mark: { type: "line", strokeDash: [4, 4], color: "#9e9e9e" },
          encoding: { x: { field: "v", type: "quantitative" }, y: { field: "v", type: "quantitative" } },
        },
        {
          data: { values: labels },
          mark: { type: "point", filled: true, size: 70, color: "#c62828" },
          encoding: { x: { field: "left", type: "quantitative" }, y: { field: "right", type: "quantitative" }, tooltip: [{ field: "key", title: "outlier" }] },
        },
        {
          data: { values: labels.slice(0, MAX_LABELS_PER_METRIC * 3) },
          mark: { type: "text", align: "left", dx: 6, dy: -6, fontSize: 11, color: "#c62828" },
          encoding: { x: { field: "left", type: "quantitative" }, y: { field: "right", type: "quantitative" }, text: { field: "key" } },
        },
      ],
    },
  };
}

function lateralityChart(data: ReportData): ChartSpec {
  const metrics = LATERALITY_METRICS as readonly string[];
  const counts = new Map<string, number>();
  const labels: { metric: string; value: number; key: string }[] = [];
  for (const o of data.outliers) {
    if (!metrics.includes(o.metric)) continue;
    const n = counts.get(o.metric) ?? 0;
    if (n >= MAX_LABELS_PER_METRIC) continue;
    counts.set(o.metric, n + 1);
    labels.push({ metric: o.metric, value: o.value, key: o.key });
  }
  const y = { field: "metric", type: "nominal", sort: metrics, title: null };
  return {
    id: "laterality",
    title: "Laterality indices",
    note: `Boxes: quartiles, whiskers 1.5 IQR. Outliers (${data.meta.rule}) are red and named.`,
    spec: {
      $schema: SCHEMA,
      width: WIDTH,
      layer: [
        {
          data: { name: "subjects" },
          transform: [{ filter: "datum.status === 'success'" }, { fold: [...metrics], as: ["metric", "value"] }, { filter: "datum.value != null" }],
          mark: { type: "boxplot", extent: 1.5, size: 22, outliers: { color: "#c62828", filled: true } },
          encoding: { y, x: { field: "value", type: "quantitative", title: "laterality index (left - right) / (left + right)" } },
        },
        {
          data: { values: labels },
          mark: { type: "text", align: "left", dx: 5, dy: -9, fontSize: 10, color: "#c62828" },
          encoding: { y, x: { field: "value", type: "quantitative" }, text: { field: "key" } },
        },
      ],
      height: { step: 46 },
    },
  };
}

/** Whether any subject has a peak-memory value (the memory chart is left out otherwise). */
function hasMemory(data: ReportData): boolean {
  const i = data.cols.indexOf("max_rss_mb");
  return data.rows.some((r) => r[i] !== null);
}

function hasMetrics(data: ReportData): boolean {
  const i = data.cols.indexOf("left_fa_mean");
  return data.rows.some((r) => r[i] !== null);
}

/** The charts the page shows for this data, in page order. */
export function buildChartSpecs(data: ReportData): ChartSpec[] {
  const charts = [statusChart(data), runtimeChart()];
  if (hasMemory(data)) charts.push(memoryChart());
  if (hasMetrics(data)) charts.push(faChart(data), lateralityChart(data));
  return charts;
}
