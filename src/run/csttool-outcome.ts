import { promises as fsp } from "node:fs";
import path from "node:path";

/**
 * Why a csttool run failed, told from what csttool left behind. csttool 0.5.0 exits 0 when a
 * pipeline step fails (its verdict is the pipeline report), writes nothing at all when its
 * environment check fails, and exits 2 (argparse) when it rejects its command line.
 */

export interface FailureText {
  message: string;
  /** Replaces the category's usual next step; null keeps it. */
  nextStep: string | null;
}

export const ARGPARSE_NEXT_STEP =
  "the options do not match this csttool (see `csttool run --help`): fix them, re-run `cst-batch plan` (it checks them against csttool), then resubmit";
export const ENVIRONMENT_NEXT_STEP =
  "run `csttool doctor` on a compute node (as the job's user) and fix what it reports (missing packages, unwritable ~/.local/share/csttool or ~/.cache/csttool), then resubmit";
export const ATLAS_NEXT_STEP =
  "install csttool's atlas data: run `csttool fetch-data --accept-fsl-license` once (needs network) on a node that shares this home, then resubmit";

/** cst-batch's own closing notes in the log tail (supervise.ts), which are not csttool's output. */
const OWN_NOTE = /^(csttool (exited with status -?\d+|killed by SIG\w+) after [\d.]+ s|csttool exited; processes of its group remain|processes survived SIGKILL)/;

/** csttool's own non-empty lines of a log tail. */
export function csttoolLines(logTail: readonly string[]): string[] {
  return logTail.map((l) => l.trim()).filter((l) => l !== "" && !OWN_NOTE.test(l));
}

/** The message for an argparse rejection (exit 2 with `usage:` / `error:`), or null. */
export function argparseRejection(exitCode: number | null, logTail: readonly string[]): string | null {
  if (exitCode !== 2) return null;
  const lines = csttoolLines(logTail);
  const last = lines[lines.length - 1];
  if (last === undefined) return null;
  if (!lines.some((l) => /^usage: /.test(l)) && !/\berror: /.test(last)) return null;
  return `csttool rejected its arguments: ${last}`;
}

export interface PipelineReportSummary {
  success: boolean | null;
  failedSteps: string[];
  /** Error of each failed step, in failed_steps order (null when the report has none). */
  errors: { step: string; error: string | null }[];
}

/** failed_steps and their errors from csttool's `<label>_pipeline_report.json` (0.5.x shape); null when the shape is unknown. */
export function summarisePipelineReport(raw: unknown): PipelineReportSummary | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as { failed_steps?: unknown; step_results?: unknown; execution?: unknown };
  if (!Array.isArray(r.failed_steps)) return null;
  const failedSteps = r.failed_steps.map((s) => String(s));
  const results = typeof r.step_results === "object" && r.step_results !== null ? (r.step_results as Record<string, unknown>) : {};
  const errors = failedSteps.map((step) => {
    const e = (results[step] as { error?: unknown } | undefined)?.error;
    return { step, error: e === undefined || e === null ? null : String(e) };
  });
  const success = (r.execution as { success?: unknown } | undefined)?.success;
  return { success: typeof success === "boolean" ? success : null, failedSteps, errors };
}

/** Pipeline reports among the staged files: at the root first (where csttool writes it), then anywhere. */
export function findPipelineReports(files: readonly { path: string }[]): string[] {
  const all = files.map((f) => f.path).filter((p) => /_pipeline_report(_\d+)?\.json$/.test(path.posix.basename(p)));
  return [...all.filter((p) => !p.includes("/")), ...all.filter((p) => p.includes("/"))];
}

/** Python's json.dump may write NaN / Infinity; read them as null. */
function parseLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(text.replace(/(?<=[:\[,]\s*)-?(NaN|Infinity)(?=\s*[,\]}])/g, "null"));
  }
}

/**
 * The message for "csttool exited 0 but wrote no metrics JSON": the failed steps and their errors
 * from the pipeline report; with no pipeline report at all, csttool's environment check is the
 * likely cause (it returns before writing anything).
 */
export async function explainNoMetrics(stagedDir: string, files: readonly { path: string }[], expected: string, logTail: readonly string[]): Promise<FailureText> {
  const head = `csttool exited 0 but wrote no metrics JSON (expected ${expected}; ${files.length} file(s) written)`;
  const reports = findPipelineReports(files);
  const first = reports[0];
  if (first === undefined) {
    const what = files.length === 0 ? "csttool wrote nothing, not even its pipeline report" : "csttool wrote no pipeline report";
    return { message: `${head}; ${what}: most likely its environment check failed (\`csttool doctor\`)`, nextStep: ENVIRONMENT_NEXT_STEP };
  }
  let summary: PipelineReportSummary | null;
  try {
    summary = summarisePipelineReport(parseLenient(await fsp.readFile(path.join(stagedDir, first), "utf8")));
  } catch (e) {
    return { message: `${head}; its pipeline report ${first} is unreadable (${(e as Error).message})`, nextStep: null };
  }
  if (summary === null || summary.failedSteps.length === 0) {
    return { message: `${head}; its pipeline report ${first} names no failed step`, nextStep: null };
  }
  const errors = summary.errors.map((e) => `${e.step}: ${e.error ?? "no error recorded"}`).join("; ");
  const atlas = logTail.some((l) => /atlas.*not found/i.test(l));
  return {
    message: `csttool exited 0 but its pipeline failed: failed_steps ${summary.failedSteps.join(", ")} (${errors}); no metrics JSON (pipeline report ${first}; ${files.length} file(s) written)${atlas ? "; csttool's atlas data is missing" : ""}`,
    nextStep: atlas ? ATLAS_NEXT_STEP : null,
  };
}
