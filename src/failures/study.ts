import type { PlanHeader } from "../schemas/records.js";
import { CATALOGUE, FAILURE_CATEGORIES, type FailureCategory, type StudyRef } from "./catalogue.js";

/** A study seen as a whole (status, collect): its folder, its plan's source and timeout, local or not. */
export function studyOfPlan(out: string, header: Pick<PlanHeader, "source" | "run">, local: boolean): StudyRef {
  const src = header.source;
  return {
    out,
    local,
    source: src.type === "bids" ? { flag: "--bids-dir", path: src.bids_dir } : { flag: "--manifest", path: src.manifest_path },
    timeoutMinutes: header.run.timeout_minutes,
  };
}

/** Whether a study is run locally: no submission to a scheduler is recorded. */
export function isLocalStudy(submissions: readonly { scheduler: string }[]): boolean {
  return !submissions.some((s) => s.scheduler !== "local");
}

/** The next step for each category with failures (`{TIMEOUT: 3, ...}`), in catalogue order. */
export function nextStepsFor(byCategory: Readonly<Record<string, number>>, study: StudyRef): { category: FailureCategory; count: number; nextStep: string }[] {
  return FAILURE_CATEGORIES.filter((c) => (byCategory[c] ?? 0) > 0).map((c) => ({ category: c, count: byCategory[c]!, nextStep: CATALOGUE[c].nextStep(study) }));
}
