import { randomBytes } from "node:crypto";
import type { ReportData } from "./data.js";
import { PAGE_SCRIPT } from "./page-script.js";
import type { ChartSpec } from "./specs.js";
import type { VegaBundle } from "./vega-bundle.js";

/** Text for HTML element content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;"));
}

/**
 * JSON for a `<script type="application/json">` element: `<`, `>` and `&` become `\u003c`,
 * `\u003e`, `\u0026` (so no `</script>` or `<!--` can appear), and U+2028/U+2029 are escaped.
 * JSON.parse of the element's text gives the value back unchanged.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const STYLE = `
:root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #212121; }
body { margin: 0 auto; max-width: 1250px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #616161; font-size: 13px; }
.totals { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 92px; }
.card b { display: block; font-size: 22px; } .card span { font-size: 12px; color: #616161; }
.card.success b { color: #2e7d32; } .card.failed b { color: #c62828; } .card.running b { color: #1565c0; } .card.stale b { color: #ef6c00; } .card.pending b { color: #757575; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(600px, 1fr)); gap: 18px; }
figure { margin: 0; } figcaption { font-size: 13px; color: #616161; max-width: 620px; }
figure h3 { font-size: 14px; margin: 0 0 6px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { border-bottom: 1px solid #eee; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #fafafa; }
th[data-col] { cursor: pointer; user-select: none; } th[aria-sort="ascending"]::after { content: " \\25B2"; } th[aria-sort="descending"]::after { content: " \\25BC"; }
td.key, td.links, td.status { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.error { font-family: ui-monospace, monospace; font-size: 12px; color: #b71c1c; max-width: 420px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
tr.st-failed td.status { color: #c62828; font-weight: 600; } tr.st-success td.status { color: #2e7d32; }
tr.st-running td.status { color: #1565c0; } tr.st-stale td.status { color: #ef6c00; } tr.st-pending td.status { color: #757575; }
.controls { display: flex; gap: 10px; margin: 8px 0; align-items: center; font-size: 13px; }
.controls input { width: 260px; padding: 4px 6px; }
.note { font-size: 12px; color: #616161; }
.warning { background: #fff8e1; border: 1px solid #ffe082; padding: 8px 12px; border-radius: 6px; font-size: 13px; }
`;

function card(cls: string, label: string, n: number): string {
  return `<div class="card ${cls}"><b>${n}</b><span>${escapeHtml(label)}</span></div>`;
}

function outlierTable(data: ReportData): string {
  if (data.outliers.length === 0) return `<p class="note">No outliers (${escapeHtml(data.meta.rule)}).</p>`;
  const rows = data.outliers
    .map(
      (o) =>
        `<tr><td class="key">${escapeHtml(o.key)}</td><td>${escapeHtml(o.metric)}</td><td class="num">${escapeHtml(String(Number(o.value.toPrecision(4))))}</td>` +
        `<td class="num">${o.z === null ? "" : escapeHtml(o.z.toFixed(2))}</td><td>${escapeHtml(o.reason)}</td></tr>`,
    )
    .join("\n");
  return `<p class="note">Rule: ${escapeHtml(data.meta.rule)}.</p>
<table id="outliers"><thead><tr><th>subject</th><th>metric</th><th>value</th><th>z</th><th>why</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

export interface RenderOptions {
  /** null: the Vega runtime was not found; the page says so instead of drawing charts. */
  bundle: VegaBundle | null;
  bundleProblem?: string;
  /** For tests; random by default. */
  nonce?: string;
}

/**
 * The whole self-contained page. Only this page's scripts run: the Content-Security-Policy
 * allows scripts carrying the page's random nonce (and eval, which Vega's expression compiler
 * needs) and no network access at all.
 */
export function renderReportHtml(data: ReportData, charts: readonly ChartSpec[], opts: RenderOptions): string {
  const nonce = opts.nonce ?? randomBytes(16).toString("base64");
  const c = data.meta.counts;
  // Constant text and a base64 nonce: nothing to escape (its quotes must stay literal).
  const csp = `default-src 'none'; script-src 'nonce-${nonce}' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:`;
  const title = `cst-batch report: plan ${data.meta.plan_id}`;
  const figures = charts
    .map((ch) => `<figure><h3>${escapeHtml(ch.title)}</h3><div class="chart" id="chart-${escapeHtml(ch.id)}"></div><figcaption>${escapeHtml(ch.note)}</figcaption></figure>`)
    .join("\n");
  const runtime = opts.bundle
    ? opts.bundle.scripts.map((s) => `<script nonce="${nonce}">${s}</script>`).join("\n")
    : "";
  const warning = opts.bundle
    ? ""
    : `<p class="warning">Charts are missing: ${escapeHtml(opts.bundleProblem ?? "the Vega runtime was not found")}.</p>`;
  const problems = data.meta.problems
    ? `<p class="warning">${data.meta.problems} damaged or missing state/metrics file(s) were found while collecting: see "problems" in <a href="batch_summary.json">batch_summary.json</a>.</p>`
    : "";
  const setAside = setAsideHtml(data);
  const sample = sampleHtml(data);
  const columns: [string, string][] = [
    ["key", "subject"],
    ["status", "status"],
    ["category", "category"],
    ["duration_s", "runtime (min)"],
    ["max_rss_mb", "peak mem (GB, source)"],
    ["attempts", "attempts"],
    ["left_fa_mean", "FA left"],
    ["right_fa_mean", "FA right"],
  ];
  const versions = opts.bundle ? Object.entries(opts.bundle.versions).map(([k, v]) => `${k} ${v}`).join(", ") : "none";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>csttool batch report</h1>
<p class="meta">plan <code>${escapeHtml(data.meta.plan_id)}</code>${data.meta.csttool_version ? ` · csttool ${escapeHtml(data.meta.csttool_version)}` : ""} · collected ${escapeHtml(data.meta.generated_at)} ·
<a href="batch_summary.json">batch_summary.json</a> · <a href="batch_metrics.csv">batch_metrics.csv</a></p>
<div class="totals" id="totals">
${card("total", "subjects", c.total)}${card("success", "succeeded", c.success)}${card("failed", "failed", c.failed)}${card("running", "running", c.running)}${c.stale ? card("stale", "stale", c.stale) : ""}${card("pending", "pending", c.pending)}${c.invalid ? card("invalid", "invalid (not run)", c.invalid) : ""}${c.excluded ? card("excluded", "excluded", c.excluded) : ""}
</div>
${warning}${problems}${sample}${setAside}
<h2>Batch</h2>
<div class="charts">
${figures}
</div>
<h2>Outliers</h2>
${outlierTable(data)}
<h2>Subjects</h2>
<div class="controls">
<input id="filter-text" type="search" placeholder="filter: subject, category, host, error text" aria-label="filter">
<select id="filter-status" aria-label="status"><option value="">any status</option><option>success</option><option>failed</option><option>running</option><option>stale</option><option>pending</option></select>
<select id="filter-category" aria-label="category"><option value="">any category</option></select>
<span class="note" id="subjects-shown"></span>
</div>
<table id="subjects">
<thead><tr>${columns.map(([col, label]) => `<th data-col="${col}" aria-sort="none">${escapeHtml(label)}</th>`).join("")}<th>files</th><th data-col="error" aria-sort="none">error</th></tr></thead>
<tbody id="subjects-body"></tbody>
</table>
<p class="note">Links are relative to this folder, so it can be moved or copied as a whole. Charts: ${escapeHtml(versions)}.</p>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script type="application/json" id="report-charts">${jsonForScript(charts)}</script>
${runtime}
<script nonce="${nonce}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/** Subjects the plan set aside: invalid ones (not run) with their problems, and the excluded count. */
function setAsideHtml(data: ReportData): string {
  const parts: string[] = [];
  const invalid = data.meta.invalid ?? [];
  if (invalid.length > 0) {
    const items = invalid.map((i) => `<li><b>${escapeHtml(i.key)}</b>: ${escapeHtml(i.problem)}</li>`).join("");
    parts.push(`<p class="warning">${invalid.length} subject(s) planned as invalid (not run; fix them, then plan again):</p><ul class="invalid">${items}</ul>`);
  }
  if ((data.meta.excluded ?? 0) > 0) parts.push(`<p class="note">${data.meta.excluded} subject(s) excluded by --include/--exclude.</p>`);
  return parts.join("\n");
}

/** What a large study's page holds (src/report/report-rows.ts): said once, near the top. */
function sampleHtml(data: ReportData): string {
  const s = data.meta.sample;
  if (!s) return "";
  return `<p class="warning" id="sample-note">This study has ${s.total} subjects; this page holds ${s.shown} of them: ${s.othersShown} of the ${s.others} that did not succeed (the first in plan order) and a random sample of ${s.succeededShown} of the ${s.succeeded} successful ones. The charts and the subjects table show these; the counts, the failure categories and the outliers are over every subject. Every subject is in <a href="batch_metrics.csv">batch_metrics.csv</a> and <a href="batch_summary.json">batch_summary.json</a>.</p>`;
}
