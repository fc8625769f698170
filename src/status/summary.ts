import path from "node:path";
import { whatNow, type StudyState, type WhatNowStep } from "../failures/what-now.js";
import type { StatusRow } from "./derive.js";
import type { StatusOverview } from "./status.js";

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

/**
 * What the summary needs of the rows, gathered as they are made (status never holds them all):
 * failing subjects by category (every key, in plan order), their logs, damaged markers.
 */
export interface StatusDigest {
  failing: Array<{ category: string; keys: string[] }>;
  damaged: Array<{ key: string; file: string }>;
  logsByCategory: Record<string, string[]>;
}

export class StatusDigestBuilder {
  private readonly failing = new Map<string, string[]>();
  private readonly logs: Record<string, string[]> = {};
  private readonly damaged: StatusDigest["damaged"] = [];

  constructor(private readonly out: string) {}

  add(row: StatusRow): void {
    if (row.state === "damaged") this.damaged.push({ key: row.key, file: row.damagedFile ?? "" });
    if (row.state !== "failed" && row.state !== "stale") return;
    const cat = row.category ?? "(no record)";
    let keys = this.failing.get(cat);
    if (!keys) this.failing.set(cat, (keys = []));
    keys.push(row.key);
    if (row.category) (this.logs[row.category] ??= []).push(rowLog(row, this.out));
  }

  result(): StatusDigest {
    return { failing: [...this.failing].map(([category, keys]) => ({ category, keys })), damaged: this.damaged, logsByCategory: this.logs };
  }
}

/** Summarise a report (pure): from its digest (`streamStatus`, `readStatus`), or from `rows` when it has no digest. */
export function summarizeStatus(report: StatusOverview | (Omit<StatusOverview, "digest"> & { rows: readonly StatusRow[]; digest?: StatusDigest })): StatusSummary {
  const t = report.totals;
  let digest = report.digest;
  if (!digest) {
    const b = new StatusDigestBuilder(report.out);
    for (const row of (report as { rows: readonly StatusRow[] }).rows) b.add(row);
    digest = b.result();
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
    logsByCategory: digest.logsByCategory,
  };
  return {
    state,
    failing: digest.failing,
    damaged: digest.damaged,
    nextSteps: whatNow(state, report.study),
  };
}
