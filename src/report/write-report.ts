import path from "node:path";
import { OUTPUT_FILES } from "../layout.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { buildReportData, type ReportInput } from "./data.js";
import { renderReportHtml } from "./html.js";
import { buildChartSpecs } from "./specs.js";
import { loadVegaBundle } from "./vega-bundle.js";

export const REPORT_FILE = OUTPUT_FILES.report;

export interface ReportResult {
  file: string;
  /** Set when the page was written without charts (the Vega runtime was not found). */
  problem: string | null;
}

/** The page's text for this input (charts included when the Vega runtime is installed). */
export async function renderBatchReport(input: ReportInput): Promise<{ html: string; problem: string | null }> {
  const data = buildReportData(input);
  const charts = buildChartSpecs(data);
  const vega = await loadVegaBundle();
  const problem = vega.kind === "ok" ? null : `batch_report.html has no charts: ${vega.reason}`;
  const html = renderReportHtml(data, charts, vega.kind === "ok" ? { bundle: vega.bundle } : { bundle: null, bundleProblem: vega.reason });
  return { html, problem };
}

/** Write `<out>/batch_report.html` atomically. */
export async function writeBatchReport(outDir: string, input: ReportInput): Promise<ReportResult> {
  const file = path.join(outDir, REPORT_FILE);
  const { html, problem } = await renderBatchReport(input);
  await writeFileAtomic(file, html);
  return { file, problem };
}
