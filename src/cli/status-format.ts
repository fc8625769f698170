import path from "node:path";
import { failureHeadline } from "../failures/what-now.js";
import type { StatusRow, StatusState } from "../status/derive.js";
import type { StatusOverview } from "../status/status.js";
import { rowLog, type StatusSummary } from "../status/summary.js";
import { color } from "./output.js";

/**
 * status's human output: the row table (`--all`, `--failed`, or when every row fits), the
 * compact summary (counts by state, failing subjects by category, damaged markers), the
 * scheduler's state and the "what now" steps it always ends with.
 */

const STATE_COLOR: Partial<Record<StatusState, string>> = { done: "32", running: "36", failed: "31", stale: "33", damaged: "31", "not-run": "33", unknown: "33", invalid: "31" };
const STATE_ORDER: readonly StatusState[] = ["done", "running", "pending-in-queue", "failed", "stale", "damaged", "not-run", "unknown", "never-submitted", "invalid"];
/** Subjects named per category in the summary before "+N more". */
const KEYS_SHOWN = 8;

/** Cut `text` to at most `max` characters at a word boundary (never inside a word or number), marking the cut with `…`. */
export function cutAtWord(text: string, max: number): string {
  const whole = text.trimEnd();
  const one = whole.split("\n")[0]!;
  if (one.length <= max) return one === whole ? one : `${one} …`;
  const room = Math.max(1, max - 2);
  const head = one.slice(0, room + 1);
  const space = head.lastIndexOf(" ");
  const cut = space > 0 ? head.slice(0, space) : "";
  return `${cut.replace(/[\s,;:(]+$/, "")} …`;
}

function formatDuration(s: number | null): string {
  if (s === null) return "";
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, "0")}m`;
}

/** `712M rusage`: the peak and where it came from (docs/peak-memory.md); older records have no source. */
function formatRss(kb: number | null, source: string | null): string {
  if (kb === null) return "";
  const size = kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)}G` : `${Math.round(kb / 1024)}M`;
  return source ? `${size} ${source}` : size;
}

const HEADER = ["subject", "session", "state", "category", "tries", "last", "maxrss (source)", "job", "log", "note"];

function rowCells(out: string, r: StatusRow): string[] {
  return [
    r.subject,
    r.session ?? "",
    r.state,
    r.category ?? "",
    String(r.attempts),
    formatDuration(r.durationSeconds),
    formatRss(r.maxRssKb, r.maxRssSource),
    r.jobId ?? "",
    r.state === "damaged" && r.damagedFile ? path.relative(out, r.damagedFile) : rowLog(r, out),
    r.state === "done" ? "" : (r.reason ?? ""),
  ];
}

/** The table's lines for these column widths; the note column is cut at a word to fit `width`. */
function tableLines(cells: readonly string[][], widths: readonly number[], width: number): string[] {
  const fixed = widths.slice(0, -1).reduce((a, b) => a + b + 2, 0);
  const noteRoom = Math.max(40, width - fixed);
  const line = (c: readonly string[], colorState = false): string =>
    c
      .map((cell, i) => {
        const last = i === c.length - 1;
        const text = last ? cutAtWord(cell, noteRoom) : cell.padEnd(widths[i] ?? 0);
        const code = colorState && i === 2 ? STATE_COLOR[cell as StatusState] : undefined;
        return code ? color(code, text) : text;
      })
      .join("  ")
      .trimEnd();
  return cells.map((c) => line(c, c !== HEADER));
}

function widthsOf(cells: readonly string[][]): number[] {
  return HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
}

/** One row per task; the note column is cut at a word to fit `width` (full text in --json). */
export function formatRows(report: { out: string }, rows: readonly StatusRow[], width: number): string[] {
  if (rows.length === 0) return [];
  const cells = rows.map((r) => rowCells(report.out, r));
  return tableLines([HEADER, ...cells], widthsOf(cells), width);
}

/** Rows held to size the columns before a long table is printed as it comes. */
export const TABLE_WINDOW = 2000;

/**
 * The row table printed as the rows come (`status --all` on a 200,000-task study): the first
 * `TABLE_WINDOW` rows are held to size the columns (a shorter table is exactly `formatRows`),
 * later rows keep those widths (a longer cell pushes its line out).
 */
export class RowTable {
  private held: string[][] | null = [];
  private widths: number[] = [];

  constructor(
    private readonly out: string,
    private readonly width: number,
  ) {}

  /** Lines ready to print (none while the first rows are held). */
  add(row: StatusRow): string[] {
    const cells = rowCells(this.out, row);
    if (this.held === null) return tableLines([cells], this.widths, this.width);
    this.held.push(cells);
    return this.held.length >= TABLE_WINDOW ? this.release() : [];
  }

  /** The lines still held. */
  finish(): string[] {
    return this.held === null || this.held.length === 0 ? [] : this.release();
  }

  private release(): string[] {
    const held = this.held ?? [];
    this.widths = widthsOf(held);
    this.held = null;
    return tableLines([HEADER, ...held], this.widths, this.width);
  }
}

/** `12 task(s): 3 done, 1 failed` */
export function totalsLine(report: StatusOverview): string {
  const t = report.totals;
  const parts = STATE_ORDER.filter((k) => t[k] > 0).map((k) => `${t[k]} ${k}`);
  return `${t.total} task(s): ${parts.join(", ") || "none"}`;
}

/** Failing subjects by category and damaged markers, compact (the summary view). */
export function formatFailing(report: StatusOverview, summary: StatusSummary): string[] {
  const lines: string[] = [];
  for (const f of summary.failing) {
    const more = f.keys.length > KEYS_SHOWN ? `, +${f.keys.length - KEYS_SHOWN} more` : "";
    lines.push(`  ${f.category} (${f.keys.length}): ${f.keys.slice(0, KEYS_SHOWN).join(", ")}${more}`);
  }
  for (const d of summary.damaged.slice(0, KEYS_SHOWN)) lines.push(`  damaged: ${d.key}: ${path.relative(report.out, d.file) || d.file}`);
  if (summary.damaged.length > KEYS_SHOWN) lines.push(`  damaged: +${summary.damaged.length - KEYS_SHOWN} more (--failed or --json lists them)`);
  return lines;
}

/** The scheduler's state: how it was asked, or that it could not be (one line, a state, not a repeated message). */
export function schedulerLines(report: StatusOverview): string[] {
  return report.scheduler.sources.map(
    (s) => `scheduler ${s.scheduler}: ${s.source === "none" ? "could not be asked" : `via ${s.source}`}${s.note ? ` (${cutAtWord(s.note, 200)})` : ""}`,
  );
}

/** The canary's verdict, once for the study (the rows it stopped only say "not run"). */
export function canaryLines(report: StatusOverview): string[] {
  const c = report.canary;
  if (!c) return [];
  return [
    `  canary: ${c.submissionId === "local" ? "the local run" : `submission ${c.submissionId}`} stopped ${c.notRun} task(s) before they ran (not failures): ${c.message}`,
    `  next step for the canary: ${c.nextStep}`,
  ];
}

/** The "what now" lines status ends with. */
export function formatWhatNow(report: StatusOverview, summary: StatusSummary): string[] {
  const lines: string[] = [];
  const head = failureHeadline(summary.state);
  lines.push(head ? `what now (${head}):` : "what now:");
  lines.push(...canaryLines(report));
  for (const s of summary.nextSteps) {
    // The canary's step (a plain resubmit) reruns its SYSTEM failures and the tasks it stopped; `--category SYSTEM` would leave the latter.
    if (report.canary && s.category === "SYSTEM") continue;
    lines.push(s.category ? `  next step for ${s.text}` : `  ${s.text}`);
    if (s.logs.length > 0) lines.push(`    logs: ${s.logs.join(", ")}`);
  }
  const written = report.writeBacks.filter((w) => w.outcome.kind === "written" && w.kind !== "peak");
  const peaks = report.writeBacks.filter((w) => w.outcome.kind === "written" && w.kind === "peak");
  if (peaks.length > 0) lines.push(`recorded the scheduler's larger peak memory (MaxRSS, source sacct) for ${peaks.length} task(s): ${peaks.slice(0, 10).map((w) => w.key).join(", ")}${peaks.length > 10 ? ", ..." : ""}`);
  if (written.length > 0) {
    lines.push(`recorded the scheduler's verdict for ${written.length} task(s): ${written.slice(0, 10).map((w) => `${w.key} ${w.outcome.kind === "written" ? w.outcome.category : ""}`).join(", ")}${written.length > 10 ? ", ..." : ""}`);
  }
  return lines;
}

export type StatusView = "rows" | "summary";

/**
 * Rows or summary: rows when asked (`--all`, `--failed`, `--category`) or when every row fits in
 * the terminal's height with the summary under it; the summary otherwise. Off a terminal (a pipe,
 * a file, a batch job's log) the budget is `PIPE_LINES` lines: a 2,000-row dump in a mail or a
 * log helps nobody (`--all` lists them; `--json` has every row).
 */
export const PIPE_LINES = 50;
export function chooseView(opts: { listRequested: boolean; rowCount: number; summaryLines: number; terminalRows: number | null }): StatusView {
  if (opts.listRequested) return "rows";
  const budget = opts.terminalRows ?? PIPE_LINES;
  return opts.rowCount + 1 + opts.summaryLines <= budget ? "rows" : "summary";
}
