import { promises as fsp } from "node:fs";
import path from "node:path";
import { describeCsttoolCause, findCsttoolCause, nextStepForCause, type CsttoolCause } from "../failures/csttool-causes.js";
import type { FailureCategory, StudyRef } from "../failures/catalogue.js";

/**
 * Why a csttool run failed, told from what csttool left behind. csttool 0.5.0 exits 0 when a
 * pipeline step fails (its verdict is the pipeline report), writes nothing at all when its
 * environment check fails, and exits 2 (argparse) when it rejects its command line.
 */

export interface FailureText {
  category: FailureCategory;
  message: string;
  /** Replaces the category's usual next step; null keeps it. */
  nextStep: string | null;
}

/** How much of the end of a subject's log is searched for csttool's cause line. */
const LOG_SCAN_BYTES = 512 * 1024;

/** The lines of this attempt in a subject's log (after the last run-one header), from its last 512 KB; [] when unreadable. */
export async function readAttemptLog(file: string): Promise<string[]> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, "r");
    const { size } = await handle.stat();
    const start = Math.max(0, size - LOG_SCAN_BYTES);
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    const lines = buf.toString("utf8").split("\n");
    let header = -1;
    for (let i = lines.length - 1; i >= 0; i--) {
      if (/^# cst-batch .* run-one: task /.test(lines[i]!)) {
        header = i;
        break;
      }
    }
    // `<ISO time> out| text` / `err| text` are csttool's lines; `cst|` and `#` lines are cst-batch's own
    const out: string[] = [];
    for (const l of lines.slice(header + 1)) {
      const m = /^\S+ (out|err|cst)\| ?(.*)$/.exec(l);
      if (m) {
        if (m[1] !== "cst" && m[2]!.trim() !== "") out.push(m[2]!);
      } else if (!l.startsWith("#") && l.trim() !== "") out.push(l);
    }
    return out;
  } catch {
    return [];
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** A recognised csttool cause as the failure's text: its category, csttool's line quoted, what it means. */
export function causeText(cause: CsttoolCause, study: StudyRef, context: string): FailureText {
  return {
    category: cause.category,
    message: `${describeCsttoolCause(cause)}: csttool said "${cause.line}" (${context})`,
    nextStep: nextStepForCause(cause, study),
  };
}

export const ARGPARSE_NEXT_STEP =
  "the options do not match this csttool (see `csttool run --help`): fix them, re-run `cst-batch plan` (it checks them against csttool), then resubmit";

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
 * The failure for "csttool exited 0 but wrote no metrics JSON": csttool's own cause line when
 * one is recognised (src/failures/csttool-causes.ts), with the failed steps of its pipeline
 * report; else the failed steps and their errors; with no pipeline report at all, csttool's
 * environment check is the likely cause (it returns before writing anything): SYSTEM.
 */
export async function explainNoMetrics(
  stagedDir: string,
  files: readonly { path: string }[],
  expected: string,
  logLines: readonly string[],
  study: StudyRef,
): Promise<FailureText> {
  const head = `csttool exited 0 but wrote no metrics JSON (expected ${expected}; ${files.length} file(s) written)`;
  const cause = findCsttoolCause(logLines);
  const reports = findPipelineReports(files);
  const first = reports[0];
  if (first === undefined) {
    const what = files.length === 0 ? "csttool wrote nothing, not even its pipeline report" : "csttool wrote no pipeline report";
    if (cause) return causeText(cause, study, `${what}; exit status 0`);
    const env = findCsttoolCause(["✗ Environment check failed"])!;
    return { ...causeText(env, study, `${what}; exit status 0`), message: `${head}; ${what}: most likely its environment check failed (\`csttool doctor\`)` };
  }
  let summary: PipelineReportSummary | null;
  try {
    summary = summarisePipelineReport(parseLenient(await fsp.readFile(path.join(stagedDir, first), "utf8")));
  } catch (e) {
    if (cause) return causeText(cause, study, `pipeline report ${first} unreadable; exit status 0`);
    return { category: "PIPELINE_FAILED", message: `${head}; its pipeline report ${first} is unreadable (${(e as Error).message})`, nextStep: null };
  }
  if (summary === null || summary.failedSteps.length === 0) {
    if (cause) return causeText(cause, study, `pipeline report ${first} names no failed step; exit status 0`);
    return { category: "PIPELINE_FAILED", message: `${head}; its pipeline report ${first} names no failed step`, nextStep: null };
  }
  const errors = summary.errors.map((e) => `${e.step}: ${e.error ?? "no error recorded"}`).join("; ");
  const steps = `failed_steps ${summary.failedSteps.join(", ")} (${errors})`;
  if (cause) return causeText(cause, study, `${steps}; exit status 0, no metrics JSON; pipeline report ${first}`);
  return {
    category: "PIPELINE_FAILED",
    message: `csttool exited 0 but its pipeline failed: ${steps}; no metrics JSON (pipeline report ${first}; ${files.length} file(s) written)`,
    nextStep: null,
  };
}
