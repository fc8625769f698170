import { taskKey } from "../layout.js";
import { problem, type Problem } from "./problems.js";
import { PLAN_DEFAULTS, type PlanRequest } from "./request.js";
import type { SourceEntry } from "./source.js";

/** The checks of a plan request, and of its entries before tasks are built from them (src/plan/planner.ts). */

export function checkRequest(req: PlanRequest): Problem[] {
  const problems: Problem[] = [];
  const fix = "see `cst-batch plan --help`";
  const hasBids = typeof req.bidsDir === "string" && req.bidsDir !== "";
  const hasManifest = typeof req.manifest === "string" && req.manifest !== "";
  if (hasBids === hasManifest) {
    problems.push(problem("error", "request", hasBids ? "give either --bids-dir or --manifest, not both" : "give --bids-dir DIR or --manifest FILE", fix));
  }
  if (!req.out) problems.push(problem("error", "request", "--out DIR is required", fix));
  const t = req.timeoutMinutes ?? PLAN_DEFAULTS.timeoutMinutes;
  if (!(Number.isFinite(t) && t > 0)) problems.push(problem("error", "request", `--timeout-minutes must be a positive number, got ${JSON.stringify(t)}`, fix));
  const g = req.graceSeconds ?? PLAN_DEFAULTS.graceSeconds;
  if (!(Number.isFinite(g) && g >= 0)) problems.push(problem("error", "request", `--grace-seconds must be a number >= 0, got ${JSON.stringify(g)}`, fix));
  if (req.minFreeGb != null && !(Number.isFinite(req.minFreeGb) && req.minFreeGb >= 0)) {
    problems.push(problem("error", "request", `--min-free-gb must be a number >= 0, got ${JSON.stringify(req.minFreeGb)}`, fix));
  }
  for (const [flag, value] of [
    ["--subject-pattern", req.subjectPattern],
    ["--session-pattern", req.sessionPattern],
    ["--dwi-filter", req.dwiFilter],
  ] as const) {
    if (value === "") problems.push(problem("error", "request", `${flag} must not be empty`, fix));
  }
  if (hasManifest && req.dwiFilter) {
    problems.push(problem("error", "request", "--dwi-filter applies to --bids-dir only; a manifest names its NIfTI files", "remove --dwi-filter"));
  }
  return problems;
}

/**
 * Duplicated subject/session pairs, and subjects with both session-less and session entries.
 * `sorted`: the entries in task order (compareTaskOrder, a stable sort), so the entries of one
 * subject, and of one task, lie next to each other: nothing is kept per task.
 */
export function checkUniqueness(sorted: readonly SourceEntry[]): Problem[] {
  const problems: Problem[] = [];
  let i = 0;
  while (i < sorted.length) {
    const subject = (sorted[i] as SourceEntry).subject;
    let none = false;
    let some = false;
    while (i < sorted.length && (sorted[i] as SourceEntry).subject === subject) {
      const first = sorted[i] as SourceEntry;
      let j = i + 1;
      while (j < sorted.length && (sorted[j] as SourceEntry).subject === subject && (sorted[j] as SourceEntry).session === first.session) j++;
      if (first.session === null) none = true;
      else some = true;
      if (j - i > 1) {
        const list = sorted.slice(i, j);
        problems.push(
          problem("error", "duplicate", `${taskKey(first.subject, first.session)} is listed ${list.length} times (${list.map((e) => e.origin).join(", ")})`, "keep one entry per subject and session", {
            subject: first.subject,
            session: first.session,
          }),
        );
      }
      i = j;
    }
    if (none && some) {
      problems.push(problem("error", "duplicate", `${subject} has both a session-less entry and session entries`, "give every entry of this subject a session, or none", { subject }));
    }
  }
  return problems;
}
