import { type FailureCategory } from "../schemas/records.js";
import { abortCategory, type SuperviseResult } from "./supervise.js";
import { ARGPARSE_NEXT_STEP, argparseRejection, causeText, csttoolLines } from "./csttool-outcome.js";
import { findCsttoolCause } from "../failures/csttool-causes.js";
import type { StudyRef } from "../failures/catalogue.js";
import { STOP_SIGNALS } from "../failures/signals.js";

/** What a csttool run that did not succeed was: its category and message. */

/** Category and message for a csttool run that did not succeed (null: it exited 0). */
export function classify(
  r: SuperviseResult,
  argv0: string,
  timeoutMinutes: number,
  signalName: string | null,
  study: StudyRef | null = null,
): { category: FailureCategory; message: string; nextStep?: string } | null {
  // csttool's own last words (a traceback's final line), not cst-batch's closing note in the log.
  const lastLine = csttoolLines(r.logTail).at(-1);
  switch (r.reason) {
    case "spawn-failed":
      return {
        category: "SYSTEM",
        message: `cannot start csttool (${argv0}): ${r.spawnError?.code ?? ""} ${r.spawnError?.message ?? ""}`.trim(),
      };
    case "timeout":
      return { category: "TIMEOUT", message: `csttool ran longer than the time limit (${timeoutMinutes} min) and was stopped` };
    case "aborted":
      return {
        category: r.category ?? "CANCELLED",
        message: `stopped on request${signalName ? ` (${signalName})` : ""}: ${r.category === "TIMEOUT" ? "the job's time limit is near" : "the job was cancelled"}`,
      };
    case "exited":
      break;
  }
  if (r.signal === "SIGKILL") {
    return { category: "OUT_OF_MEMORY", message: "csttool was killed by SIGKILL that cst-batch did not send; most often the out-of-memory killer" };
  }
  if (r.signal) return { category: "KILLED", message: `csttool was killed by ${r.signal}` };
  if (r.exitCode !== 0 && r.logTail.some((l) => /No space left on device|\[Errno 28\]|Disk quota exceeded|\[Errno 122\]/.test(l))) {
    return { category: "SYSTEM", message: `csttool exited with status ${r.exitCode}: the disk is full (no space left on device, or over quota)` };
  }
  const rejected = argparseRejection(r.exitCode, r.logTail);
  if (rejected) return { category: "VALIDATION", message: rejected, nextStep: ARGPARSE_NEXT_STEP };
  if (r.exitCode !== 0) {
    // csttool's own cause (a MemoryError traceback, an unreadable input) before the generic verdict
    const cause = study ? findCsttoolCause(csttoolLines(r.logTail)) : null;
    if (cause && study) {
      const t = causeText(cause, study, `exit status ${r.exitCode}`);
      return { category: t.category, message: t.message, ...(t.nextStep ? { nextStep: t.nextStep } : {}) };
    }
    return { category: "PIPELINE_FAILED", message: `csttool exited with status ${r.exitCode}${lastLine ? `: ${lastLine}` : ""}` };
  }
  return null;
}

/** Signals a scheduler sends to every process of a job when it cancels it or its time is up (the catalogue's stop signals). */
const JOB_STOP_SIGNALS: ReadonlySet<string> = new Set(STOP_SIGNALS.map(([signal]) => signal));
/** How long to wait for our own copy of such a signal after csttool died of one. */
const SIBLING_SIGNAL_WAIT_MS = 300;

/**
 * `scancel` (or a walltime) signals every process of the job at once, so csttool may die of the
 * SIGTERM before run-one has handled its own copy. When csttool died of such a signal, wait a
 * moment for ours: if it comes, the run was stopped with us (CANCELLED / TIMEOUT), not killed.
 */
export async function stoppedWithUs(result: SuperviseResult, signal: AbortSignal | undefined): Promise<SuperviseResult> {
  if (result.reason !== "exited" || result.signal === null || !JOB_STOP_SIGNALS.has(result.signal) || !signal) return result;
  if (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SIBLING_SIGNAL_WAIT_MS);
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
  return signal.aborted ? { ...result, reason: "aborted", category: abortCategory(signal) } : result;
}

export function signalNameOf(signal: AbortSignal | undefined): string | null {
  const r: unknown = signal?.reason;
  if (typeof r === "object" && r !== null && "signal" in r && typeof (r as { signal: unknown }).signal === "string") {
    return (r as { signal: string }).signal;
  }
  return null;
}
