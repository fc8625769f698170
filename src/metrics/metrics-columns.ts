/**
 * The metric columns of `batch_metrics.csv`, in upstream csttool's order (its batch report), and
 * where each value lives in csttool's metrics JSON (under `metrics`).
 *
 * Missing-value policy: a cell is empty when the value is absent (no metrics file, no `rd`/`ad`
 * block, no regional values, no asymmetry entry), when Python wrote NaN / Infinity / -Infinity
 * (read as null), or when it is not a number at all. Nothing is written as 0 or "NaN".
 */
export const SCALARS = ["fa", "md", "rd", "ad"] as const;
export const REGIONS = ["pontine", "plic", "precentral"] as const;

export interface MetricColumn {
  name: string;
  /** Keys below the metrics JSON's `metrics` object. */
  path: readonly string[];
}

function buildMetricColumns(): MetricColumn[] {
  const cols: MetricColumn[] = [
    { name: "left_n_streamlines", path: ["left", "morphology", "n_streamlines"] },
    { name: "right_n_streamlines", path: ["right", "morphology", "n_streamlines"] },
    { name: "left_mean_length_mm", path: ["left", "morphology", "mean_length"] },
    { name: "right_mean_length_mm", path: ["right", "morphology", "mean_length"] },
    { name: "left_tract_volume_mm3", path: ["left", "morphology", "tract_volume"] },
    { name: "right_tract_volume_mm3", path: ["right", "morphology", "tract_volume"] },
    { name: "volume_laterality_index", path: ["asymmetry", "volume", "laterality_index"] },
    { name: "streamline_count_laterality_index", path: ["asymmetry", "streamline_count", "laterality_index"] },
  ];
  for (const s of SCALARS) {
    cols.push(
      { name: `left_${s}_mean`, path: ["left", s, "mean"] },
      { name: `left_${s}_std`, path: ["left", s, "std"] },
      { name: `right_${s}_mean`, path: ["right", s, "mean"] },
      { name: `right_${s}_std`, path: ["right", s, "std"] },
      { name: `${s}_laterality_index`, path: ["asymmetry", s, "laterality_index"] },
    );
    for (const r of REGIONS) {
      cols.push(
        { name: `left_${s}_${r}`, path: ["left", s, r] },
        { name: `right_${s}_${r}`, path: ["right", s, r] },
        { name: `${s}_${r}_laterality_index`, path: ["asymmetry", `${s}_${r}`, "laterality_index"] },
      );
    }
  }
  return cols;
}

export const METRIC_COLUMNS: readonly MetricColumn[] = buildMetricColumns();

/** Batch columns first (upstream order), then the metrics, then cst-batch's own columns. */
export const LEADING_COLUMNS = ["subject_id", "session_id", "status", "error_category", "duration_seconds", "error"] as const;
export const TRAILING_COLUMNS = ["attempts", "host", "job_id", "max_rss_kb", "max_rss_source", "config_hash", "metrics_file"] as const;

export const CSV_COLUMNS: readonly string[] = [...LEADING_COLUMNS, ...METRIC_COLUMNS.map((c) => c.name), ...TRAILING_COLUMNS];

/** The raw metric values of one metrics JSON (parsed), in METRIC_COLUMNS order; undefined when absent. */
export function extractMetricValues(doc: unknown): unknown[] {
  const metrics = isRecord(doc) ? doc["metrics"] : undefined;
  return METRIC_COLUMNS.map((c) => dig(metrics, c.path));
}

function dig(value: unknown, keys: readonly string[]): unknown {
  let v = value;
  for (const k of keys) {
    if (!isRecord(v)) return undefined;
    v = v[k];
  }
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
