export { writeBatchReport, renderBatchReport, REPORT_FILE, type ReportResult } from "./write-report.js";
export { buildReportData, relativeHref, REPORT_METRICS, type ReportInput, type ReportRowInput, type ReportData } from "./data.js";
export { buildChartSpecs, type ChartSpec } from "./specs.js";
export { escapeHtml, jsonForScript, renderReportHtml } from "./html.js";
export { findOutliers, metricStats, quantileSorted } from "./outliers.js";
export { loadVegaBundle, findPackageDir, inlineScriptSafe } from "./vega-bundle.js";
