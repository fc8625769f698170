import os from "node:os";
import { hostEventLogPath } from "../layout.js";
import { appendLineSync, jsonLine } from "./append.js";

/**
 * The output folder's event log, `<out>/.cst-batch/events/<host>.jsonl`: one JSON line per state change
 * (planned, submitted, started, promoted, finished, failed, collected), in pino's line format
 * (`level`, `time` in epoch ms, `pid`, `hostname`, `msg`, then the fields), so `pino-pretty`
 * and any JSON-lines tool read it.
 *
 * Every writer uses the small O_APPEND appender (./append.ts) rather than a pino logger: the
 * writers are many short-lived processes (one run-one per subject, on many nodes) that each
 * write a handful of events; a pino destination would add a stream to open and flush before
 * every exit (and pino's load time to run-one's start-up), while one synchronous write per
 * event is already whole-line atomic, which is what concurrent writers need. Writing the log is
 * best effort: a failure never fails the command.
 *
 * Each machine appends to its own file (src/layout.ts `hostEventLogPath`): appends from several
 * NFS clients to one file are not atomic (lines can interleave or be lost), and one file written
 * by thousands of array tasks is a lock hotspot on Lustre. Processes on one machine share its
 * file, ordered by that kernel. Readers merge the files by time (./read-events.ts), with the
 * single `events.jsonl` of a study written before per-host files.
 */

export const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export type BatchEvent =
  | { event: "planned"; plan_id: string; tasks: number; to_run: number; done: number; changed: number; new: number; skipped: number; source: string }
  | { event: "submitted"; scheduler: string; plan_id: string; tasks: number; job_ids: (string | null)[]; submission_id?: string | null; collect_job_id?: string | null; jobs?: number }
  | { event: "started"; key: string; index: number; plan_id: string; job_id: string | null; argv: string[] }
  | { event: "promoted"; key: string; index: number; files: number; metrics_file: string | null }
  | { event: "finished"; key: string; index: number; duration_seconds: number; max_rss_kb: number | null }
  | { event: "failed"; key: string; index: number; category: string; message: string; next_step: string; attempt_dir: string | null; duration_seconds: number | null }
  | { event: "collected"; plan_id: string; counts: Record<string, number>; by_category: Record<string, number>; problems: number };

/** The line's `msg`: what a person scanning the log wants to read. */
export function eventMessage(e: BatchEvent): string {
  switch (e.event) {
    case "planned":
      return `planned ${e.tasks} task(s), ${e.to_run} to run (plan ${e.plan_id})`;
    case "submitted":
      return `submitted ${e.tasks} task(s) to ${e.scheduler}${e.job_ids.length ? ` (job ${e.job_ids.filter(Boolean).join(", ")})` : ""}`;
    case "started":
      return `${e.key}: started`;
    case "promoted":
      return `${e.key}: results promoted (${e.files} file(s))`;
    case "finished":
      return `${e.key}: finished in ${e.duration_seconds.toFixed(1)} s`;
    case "failed":
      return `${e.key}: failed ${e.category}`;
    case "collected":
      return `collected: ${e.counts.success ?? 0} succeeded, ${e.counts.failed ?? 0} failed, ${e.counts.running ?? 0} running, ${e.counts.pending ?? 0} pending`;
  }
}

/** The JSON line for an event (exported for tests). */
export function eventLine(e: BatchEvent, now: Date = new Date()): string {
  const level = e.event === "failed" ? LEVELS.error : LEVELS.info;
  return jsonLine({ level, time: now.getTime(), pid: process.pid, hostname: os.hostname(), msg: eventMessage(e) }, e as unknown as Record<string, unknown>);
}

/** Append an event to this machine's `<out>/.cst-batch/events/<host>.jsonl`; false when it could not be written. */
export function recordEvent(out: string, e: BatchEvent): boolean {
  return appendLineSync(out, hostEventLogPath(out), eventLine(e));
}
