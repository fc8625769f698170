import { shellQuote } from "../shell/shell-quote.js";
import { FAILURE_CATEGORIES, nextStepFor, rerunRemainingCommand, type FailureCategory, type StudyRef } from "./catalogue.js";

/**
 * "What now?" for a whole study: the next steps status ends with, built from the study's state
 * (how many tasks are in each state, failures by category, a few logs to read). The commands come
 * from the failure catalogue (catalogue.ts), so a step always names a command that works for the
 * study (resubmit on a cluster, a local rerun otherwise). Pure.
 */
export interface StudyState {
  total: number;
  done: number;
  running: number;
  queued: number;
  failed: number;
  stale: number;
  damaged: number;
  /** not run, unknown and never submitted. */
  notRun: number;
  /** Subjects set aside as invalid (--skip-invalid): in no task until fixed and planned again. */
  invalid?: number;
  /** Failed and stale tasks with a known cause, per category. */
  byCategory: Readonly<Record<string, number>>;
  /** Logs worth reading first (relative to the study folder), per category. */
  logsByCategory?: Readonly<Record<string, readonly string[]>>;
}

export interface WhatNowStep {
  /** `failed`, `stale`, `damaged`, `invalid`, `not-run`, `in-flight` or `done`. */
  kind: "failed" | "stale" | "damaged" | "invalid" | "not-run" | "in-flight" | "done";
  category: FailureCategory | null;
  count: number;
  /** One line: the situation and what to do, with the command in backticks. */
  text: string;
  logs: string[];
}

const LOGS_SHOWN = 3;

/** The next steps for a study in this state, most urgent first; one "all done" step when nothing is left. */
export function whatNow(state: StudyState, study: StudyRef): WhatNowStep[] {
  const steps: WhatNowStep[] = [];
  const out = shellQuote(study.out);
  let categorised = 0;
  for (const c of FAILURE_CATEGORIES) {
    const n = state.byCategory[c] ?? 0;
    if (n === 0) continue;
    categorised += n;
    const logs = [...(state.logsByCategory?.[c] ?? [])];
    steps.push({ kind: "failed", category: c, count: n, text: `${c} (${n}): ${nextStepFor(c, study)}`, logs: logs.slice(0, LOGS_SHOWN) });
  }
  const uncategorisedStale = Math.max(0, state.failed + state.stale - categorised);
  if (uncategorisedStale > 0) {
    steps.push({
      kind: "stale",
      category: null,
      count: uncategorisedStale,
      text: `${uncategorisedStale} attempt(s) ended without a record (stale): the next run files each as KILLED; rerun them: ${rerunRemainingCommand(study, true)}`,
      logs: [],
    });
  }
  if (state.damaged > 0) {
    steps.push({
      kind: "damaged",
      category: null,
      count: state.damaged,
      text: `${state.damaged} damaged _done.json (not counted as done): a rerun moves each aside and runs the subject again: ${rerunRemainingCommand(study)}`,
      logs: [],
    });
  }
  const invalid = state.invalid ?? 0;
  if (invalid > 0) {
    steps.push({
      kind: "invalid",
      category: null,
      count: invalid,
      text: `${invalid} invalid (not run; their problems are listed above, all in \`cst-batch status --out ${out} --failed --json\`): fix them, then \`cst-batch plan --out ${out}\` plans them with the study's recorded settings, and ${rerunRemainingCommand(study)} runs them`,
      logs: [],
    });
  }
  if (state.notRun > 0) {
    steps.push({ kind: "not-run", category: null, count: state.notRun, text: `${state.notRun} not run yet: ${rerunRemainingCommand(study)}`, logs: [] });
  }
  const inFlight = state.running + state.queued;
  if (inFlight > 0) {
    steps.push({
      kind: "in-flight",
      category: null,
      count: inFlight,
      text: `${state.running} running, ${state.queued} queued: follow them with \`cst-batch status --out ${out} --watch\`; stop them with \`cst-batch cancel --out ${out}\``,
      logs: [],
    });
  }
  if (steps.length === 0 && state.total > 0) {
    steps.push({ kind: "done", category: null, count: state.done, text: `all ${state.done} task(s) done: gather the results with \`cst-batch collect --out ${out}\``, logs: [] });
  }
  return steps;
}

/** `4 failed: PIPELINE_FAILED 3, TIMEOUT 1` (the headline of the failures). */
export function failureHeadline(state: Pick<StudyState, "failed" | "stale" | "byCategory">): string | null {
  const n = state.failed + state.stale;
  if (n === 0) return null;
  const cats = FAILURE_CATEGORIES.filter((c) => (state.byCategory[c] ?? 0) > 0).map((c) => `${c} ${state.byCategory[c]}`);
  return `${n} failed${state.stale > 0 ? ` (${state.stale} stale)` : ""}${cats.length > 0 ? `: ${cats.join(", ")}` : ""}`;
}
