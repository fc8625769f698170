export { collect, errorExcerpt, type CollectOptions, type CollectResult } from "./collect.js";
export { CSV_COLUMNS, METRIC_COLUMNS, SCALARS, REGIONS, extractMetricValues } from "../metrics/metrics-columns.js";
export { csvField, csvRow, numberCell } from "./csv.js";
export { readTaskMetrics, type TaskMetrics } from "./find-metrics.js";
export { datasetDescription, participantsTsv, BIDS_VERSION } from "./bids.js";
