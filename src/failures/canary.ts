import { shellQuote } from "../shell/shell-quote.js";
import type { FailureCategory } from "./catalogue.js";

/**
 * The canary: the first K subjects of a run that finish tell whether the environment works. When
 * all K failed with a study-wide cause (SYSTEM: csttool's environment check, its atlas data,
 * csttool or cst-batch not startable, disk or permissions), the rest would fail the same way:
 * local mode starts no new subject, array tasks of the same submission exit at once, recorded
 * as not run. Any success, or any failure of another category, among the first K means the
 * environment works, and nothing is stopped.
 */

/** Default K (`--canary K`); 0 turns the canary off. */
export const DEFAULT_CANARY = 3;

/** A failure category that says the environment, not the subject, is broken. */
export function isEnvironmentFailure(category: FailureCategory): boolean {
  return category === "SYSTEM";
}

/** One finished subject, as the canary sees it. */
export interface CanaryOutcome {
  key: string;
  /** null: success. */
  category: FailureCategory | null;
  message: string | null;
}

export type CanaryState = { kind: "off" } | { kind: "undecided"; seen: number } | { kind: "healthy" } | { kind: "stop"; first: CanaryOutcome[] };

/** The verdict from the first finished subjects, in the order they finished. */
export function canaryVerdict(outcomes: readonly CanaryOutcome[], k: number): CanaryState {
  if (k <= 0) return { kind: "off" };
  const first = outcomes.slice(0, k);
  if (first.some((o) => o.category === null || !isEnvironmentFailure(o.category))) return { kind: "healthy" };
  if (first.length < k) return { kind: "undecided", seen: first.length };
  return { kind: "stop", first };
}

/**
 * What the user is told when the canary stopped a run, and what to do: the fix, then
 * `cst-batch resubmit --out OUT`, which reruns the failed and the never-run tasks on the study's
 * scheduler (locally when it has none).
 */
export function describeCanaryStop(first: readonly CanaryOutcome[], notRun: number, out: string): { message: string; nextStep: string } {
  const cause = first[0]?.message ?? "a system problem";
  return {
    message: `the first ${first.length} subject(s) (${first.map((o) => o.key).join(", ")}) all failed with a study-wide SYSTEM problem, so ${notRun} subject(s) were not started: ${cause}`,
    nextStep:
      `fix the environment problem named above (\`csttool doctor\` where the jobs run shows most), then \`cst-batch resubmit --out ${shellQuote(out)}\` runs the failed and the not-started subjects (a new run, with its own canary); not-started subjects are not failures. \`--canary 0\` turns this check off`,
  };
}
