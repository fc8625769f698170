import path from "node:path";
import { whatNow, type StudyState, type WhatNowStep } from "../failures/what-now.js";
import type { StatusRow } from "./derive.js";
import type { StatusReport } from "./status.js";

/**
 * The compact view of a status report (what a terminal shows when one row per task does not
 * fit): counts by state, failing subjects by category, damaged markers, and the next steps.
 */
export interface StatusSummary {
  state: StudyState;
  /** Failed and stale tasks per category (`(no record)` for stale attempts of unknown cause), keys in plan order. */
  failing: Array<{ category: string; keys: string[] }>;
  damaged: Array<{ key: string; file: string }>;
  nextSteps: WhatNowStep[];
}

/** The log a user should read for a row (relative to the study folder): the scheduler's output when cst-batch left no record. */
export function rowLog(row: StatusRow, out: string): string {
  if (row.schedulerLogPath && (row.state === "failed" || row.state === "not-run" || row.state === "unknown") && !row.errorLogPath) {
    return path.relative(out, row.schedulerLogPath);
  }
  return row.state === "done" ? row.logPath : (row.errorLogPath ?? row.logPath);
}

/** Summarise a report (pure). */
export function summarizeStatus(report: StatusReport): StatusSummary {
  const t = report.totals;
  const failing = new Map<string, string[]>();
  const logs: Record<string, string[]> = {};
  const damaged: StatusSummary["damaged"] = [];
  for (const row of report.rows) {
    if (row.state === "damaged") damaged.push({ key: row.key, file: row.damagedFile ?? "" });
    if (row.state !== "failed" && row.state !== "stale") continue;
    const cat = row.category ?? "(no record)";
    let keys = failing.get(cat);
    if (!keys) failing.set(cat, (keys = []));
    keys.push(row.key);
    if (row.category) (logs[row.category] ??= []).push(rowLog(row, report.out));
  }
  const state: StudyState = {
    total: t.total,
    done: t.done,
    running: t.running,
    queued: t["pending-in-queue"],
    failed: t.failed,
    stale: t.stale,
    damaged: t.damaged,
    notRun: t["not-run"] + t.unknown + t["never-submitted"],
    invalid: t.invalid,
    byCategory: report.byCategory,
    logsByCategory: logs,
  };
  return {
    state,
    failing: [...failing].map(([category, keys]) => ({ category, keys })),
    damaged,
    nextSteps: whatNow(state, report.study),
  };
}
