import { EXIT, type ExitCode } from "../errors.js";

/**
 * Findings of discovery and preflight: data, not exceptions. Preflight collects every problem;
 * any `error` means no plan is written, `warning`s (skipped subjects) do not stop the plan.
 */
export const PROBLEM_CATEGORIES = [
  "request",
  "manifest",
  "discovery",
  "input",
  "dicom",
  "id",
  "duplicate",
  "options",
  "output",
  "disk",
  "csttool",
  "skipped",
] as const;
export type ProblemCategory = (typeof PROBLEM_CATEGORIES)[number];

export interface Problem {
  severity: "error" | "warning";
  category: ProblemCategory;
  subject: string | null;
  session: string | null;
  message: string;
  fix: string;
}

export function problem(
  severity: Problem["severity"],
  category: ProblemCategory,
  message: string,
  fix: string,
  where: { subject?: string | null; session?: string | null } = {},
): Problem {
  return { severity, category, subject: where.subject ?? null, session: where.session ?? null, message, fix };
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === "error");
}

/**
 * Categories whose errors are bad input, not preflight findings: a manifest that cannot be read as
 * one (missing, not JSON, wrong structure, unknown keys) and a request that is not valid. They
 * exit 2 like a bad flag, wherever they are found; every other error is preflight's 3.
 */
const BAD_INPUT_CATEGORIES: ReadonlySet<ProblemCategory> = new Set(["manifest", "request"]);

/** The exit code of a plan that preflight refused (README "Exit codes": 2 invalid manifest, 3 preflight). */
export function exitCodeForProblems(problems: readonly Problem[]): ExitCode {
  return problems.some((p) => p.severity === "error" && BAD_INPUT_CATEGORIES.has(p.category)) ? EXIT.USAGE : EXIT.PREFLIGHT;
}

/** Errors first, then by subject/session, keeping the original order otherwise. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => {
      if (a.p.severity !== b.p.severity) return a.p.severity === "error" ? -1 : 1;
      const sa = a.p.subject ?? "";
      const sb = b.p.subject ?? "";
      if (sa !== sb) return sa < sb ? -1 : 1;
      const ea = a.p.session ?? "";
      const eb = b.p.session ?? "";
      if (ea !== eb) return ea < eb ? -1 : 1;
      return a.i - b.i;
    })
    .map((x) => x.p);
}
