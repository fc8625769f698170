import path from "node:path";
import { errnoCode } from "../errors.js";
import { parseJsonLenient } from "../util/read-json.js";
import { ASYNC_IO, type TaskIo } from "../state/task-state.js";
import { extractMetricValues } from "../metrics/metrics-columns.js";

/** The metric values of one finished task, or why there are none. */
export interface TaskMetrics {
  /** The metrics JSON that was read, relative to out; null when none was found. */
  file: string | null;
  /** In METRIC_COLUMNS order; null when no usable file was found. */
  values: unknown[] | null;
  problems: string[];
}

export interface MetricsLookup {
  out: string;
  /** Subject folder, relative to out. */
  outputDir: string;
  subject: string;
  key: string;
  /** `_done.json`'s `metrics_file` (relative to the subject folder), if any. */
  doneMetricsFile: string | null;
}

/**
 * Find and read a task's metrics JSON: `_done.json`'s `metrics_file` first; failing that csttool
 * 0.5's `reports/<key>_metrics.json` (or any `reports/*_metrics.json`), then the older
 * `metrics/<sub>_bilateral_metrics.json` (or any `metrics/*_bilateral_metrics.json`).
 * Python's NaN / Infinity / -Infinity tokens read as null. The parsed document is reduced to the
 * column values at once and not kept.
 */
export async function readTaskMetrics(q: MetricsLookup, io: TaskIo = ASYNC_IO): Promise<TaskMetrics> {
  const dir = path.join(q.out, q.outputDir);
  const problems: string[] = [];
  if (q.doneMetricsFile) {
    const file = path.resolve(dir, q.doneMetricsFile);
    const got = await readMetricsFile(io, file, problems);
    if (got !== "missing") return done(q.out, file, got, problems);
    problems.push(`${file}: named as metrics_file in _done.json but missing; looking in reports/ and metrics/`);
  }
  for (const [sub, exact, suffix] of [
    ["reports", `${q.key}_metrics.json`, "_metrics.json"],
    ["metrics", `${q.subject}_bilateral_metrics.json`, "_bilateral_metrics.json"],
  ] as const) {
    const candidates = await candidatesIn(io, path.join(dir, sub), exact, suffix);
    for (const file of candidates) {
      const got = await readMetricsFile(io, file, problems);
      if (got !== "missing") return done(q.out, file, got, problems);
    }
  }
  problems.push(`${dir}: finished, but no metrics JSON found (reports/*_metrics.json or metrics/*_bilateral_metrics.json)`);
  return { file: null, values: null, problems };
}

function done(out: string, file: string, values: unknown[] | null, problems: string[]): TaskMetrics {
  return { file: path.relative(out, file), values, problems };
}

/** The exact name first, then other names with the suffix, sorted. */
async function candidatesIn(io: TaskIo, dir: string, exact: string, suffix: string): Promise<string[]> {
  let names: string[];
  try {
    names = await io.readdir(dir);
  } catch {
    return [];
  }
  const rest = names.filter((n) => n !== exact && n.endsWith(suffix) && !n.startsWith(".")).sort();
  return [...(names.includes(exact) ? [exact] : []), ...rest].map((n) => path.join(dir, n));
}

/** Values of one file; null (with a problem) when it is unreadable or not a metrics document. */
async function readMetricsFile(io: TaskIo, file: string, problems: string[]): Promise<unknown[] | null | "missing"> {
  let text: string;
  try {
    text = await io.readText(file);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return "missing";
    problems.push(`${file}: cannot read: ${(e as Error).message}`);
    return null;
  }
  let doc: unknown;
  try {
    doc = parseJsonLenient(text);
  } catch (e) {
    problems.push(`${file}: not valid JSON (${(e as Error).message})`);
    return null;
  }
  const metrics = typeof doc === "object" && doc !== null ? (doc as { metrics?: unknown }).metrics : undefined;
  if (typeof metrics !== "object" || metrics === null || Array.isArray(metrics)) {
    problems.push(`${file}: no "metrics" object; not a csttool metrics file`);
    return null;
  }
  return extractMetricValues(doc);
}
