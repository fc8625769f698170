import type { ResolvedSettings } from "../study/settings.js";

/**
 * What `plan` (and `submit`, which plans first) asks for. Built from command-line flags by
 * `planRequestFromFlags` (src/cli/plan-flags.ts), or directly by library callers and tests.
 */
export interface PlanRequest {
  /** Exactly one of `bidsDir` and `manifest`. */
  bidsDir?: string | null;
  manifest?: string | null;
  /** The output folder (`--out`). */
  out: string;
  subjectPattern?: string;
  sessionPattern?: string;
  include?: readonly string[];
  exclude?: readonly string[];
  /** Glob on the DWI file name when a dwi folder holds several runs/acquisitions (BIDS only). */
  dwiFilter?: string | null;
  /** The command-line option layer, keyed like the manifest `options` (validated by createPlan). */
  options?: Record<string, unknown>;
  /** The same options as the user typed them (key -> text), so messages quote `1e999`, not `null`. */
  optionTexts?: Record<string, string>;
  /** csttool executable name or path; default `csttool` on PATH. */
  csttool?: string;
  /** Skip `csttool --version` and use this version (csttool only inside a container). */
  csttoolVersion?: string | null;
  /** csttool runs in this container runtime (`submit --container`): every bound folder must be bindable. */
  container?: { runtime: string } | null;
  timeoutMinutes?: number;
  graceSeconds?: number;
  /** Require this much free disk instead of the estimate. */
  minFreeGb?: number | null;
  skipDiskCheck?: boolean;
  /** Plan even though the real csttool's atlas data is missing or corrupt (a warning instead of an error). */
  allowMissingAtlas?: boolean;
  /** The study's settings for this command (src/study/settings.ts): written with the plan, never on a dry run. */
  studySettings?: ResolvedSettings | null;
  /** Apply changes that turn done subjects into reruns (default: keep their results, planned as they were made). */
  rerunChanged?: boolean;
  /** Plan the valid subjects and record the others as `invalid` tasks, instead of writing no plan. */
  skipInvalid?: boolean;
  /** Look only: compute the plan and its preview, write nothing under --out (no plan, no pointer, no event). */
  dryRun?: boolean;
  /** Resolve relative paths against this folder (default process.cwd()). */
  cwd?: string;
  /** Environment used to find and probe csttool (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The clock, for created_at (tests). */
  now?: () => Date;
}

export const PLAN_DEFAULTS = {
  subjectPattern: "sub-*",
  sessionPattern: "ses-*",
  csttool: "csttool",
  timeoutMinutes: 120,
  graceSeconds: 30,
} as const;
