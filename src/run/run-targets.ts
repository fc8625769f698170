import { statSync } from "node:fs";
import path from "node:path";
import { CstError } from "../errors.js";
import { submissionChunksPath } from "../layout.js";
import { currentPlanFile } from "../plan/load-plan.js";
import { readSubmissionChunk } from "../state/submission-chunks.js";
import type { RunOneOptions, RunOneOutcome } from "./run-one.js";
import { DEFAULT_CANARY } from "../failures/canary.js";
import type { CanaryVerdictFile } from "./canary-file.js";

/** What run-one is asked to run: one plan task, or one chunk of a submission. */
export interface RunTargetRequest {
  /** A plan file, or a study folder (its current plan is meant). With a submission: overrides its plan. */
  plan?: string;
  /** Plan index (a number, or the text given on the command line). */
  index?: number | string;
  /** A submission record written by submit; goes with `chunk`. */
  submission?: string;
  chunk?: number | string;
  /** Where `CST_BATCH_PLAN` is read when `plan` is not given (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** One task to run: the plan file and the task's index in it. */
export interface RunTarget {
  planFile: string;
  index: number;
}

/** A whole number >= 0, given as a number or as the text typed after `flag`. */
function nonNegativeInt(flag: string, value: number | string): number {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return value;
  } else if (/^\d+$/.test(value.trim())) {
    return Number(value);
  }
  throw new CstError("USAGE", `${flag} must be a whole number >= 0, got "${String(value)}"`);
}

/** A plan path that names a folder means that study's current plan. */
export function planFileOf(given: string): string {
  try {
    if (statSync(given).isDirectory()) return currentPlanFile(given);
  } catch {
    // missing: loading the plan reports it with its path
  }
  return given;
}

/** The study folder of a submission record `<out>/.cst-batch/submissions/<id>.json` (layout.ts `submissionsDir`). */
function studyDirOfSubmissionFile(file: string): string {
  return path.resolve(path.dirname(file), "..", "..");
}

/** The submission's canary (array tasks only): its study folder, id and K. */
export interface RunCanary {
  out: string;
  submissionId: string;
  k: number;
}

/**
 * A chunk from the submission's chunk index (its cost does not grow with the study), when that
 * index belongs to the record: it is the record's `<id>/chunks.idx` and names the same id (a
 * submit that failed and was rolled back removes it with the record). null: read the record.
 */
function chunkFromIndex(submission: string, chunk: number): { submissionId: string; planPath: string; indices: number[]; canary: number | undefined } | null {
  const id = path.basename(submission).replace(/\.json$/, "");
  const found = readSubmissionChunk(submissionChunksPath(submission), id, chunk);
  if (found === null) return null;
  if (found.indices === null) {
    throw new CstError("USAGE", `--chunk ${chunk} is out of range: submission ${found.head.submission_id} has ${found.head.chunks} chunk(s)`);
  }
  return { submissionId: found.head.submission_id, planPath: found.head.plan_path, indices: found.indices, canary: found.head.canary };
}

/** The (plan, index) pairs run-one runs, in order: one from plan + index, or a submission chunk's. */
export async function resolveRunTargets(req: RunTargetRequest): Promise<RunTarget[]> {
  return (await resolveRunPlan(req)).targets;
}

/** The targets, and for a submission chunk its canary. */
async function resolveRunPlan(req: RunTargetRequest): Promise<{ targets: RunTarget[]; canary: RunCanary | null }> {
  if (req.submission !== undefined || req.chunk !== undefined) {
    if (req.submission === undefined || req.chunk === undefined) {
      throw new CstError("USAGE", "--submission and --chunk go together");
    }
    if (req.index !== undefined) throw new CstError("USAGE", "--index cannot be combined with --submission/--chunk");
    const chunk = nonNegativeInt("--chunk", req.chunk);
    const fromIndex = chunkFromIndex(req.submission, chunk);
    if (fromIndex !== null) {
      const planFile = req.plan ?? path.resolve(fromIndex.planPath);
      const canary = { out: studyDirOfSubmissionFile(req.submission), submissionId: fromIndex.submissionId, k: fromIndex.canary ?? DEFAULT_CANARY };
      return { targets: fromIndex.indices.map((index) => ({ planFile, index })), canary };
    }
    // A submission without a chunk index (written before them, or copied alone): the whole record.
    // Loaded only then: a plain run-one needs neither.
    const [{ SubmissionSchema }, { readStateFile, requireState }] = await Promise.all([import("../schemas/study-records.js"), import("../util/read-json.js")]);
    const submission = requireState(
      await readStateFile(req.submission, SubmissionSchema),
      req.submission,
      "submission record",
      "pass the submission file written by `cst-batch submit`",
    );
    const indices = submission.chunks[chunk];
    if (indices === undefined) {
      throw new CstError("USAGE", `--chunk ${chunk} is out of range: submission ${submission.submission_id} has ${submission.chunks.length} chunk(s)`);
    }
    const planFile = req.plan ?? path.resolve(submission.plan_path);
    const canary = { out: studyDirOfSubmissionFile(req.submission), submissionId: submission.submission_id, k: submission.canary ?? DEFAULT_CANARY };
    return { targets: indices.map((index) => ({ planFile, index })), canary };
  }
  const given = req.plan ?? (req.env ?? process.env).CST_BATCH_PLAN;
  if (!given) throw new CstError("USAGE", "run-one needs --plan FILE (or CST_BATCH_PLAN) and --index N, or --submission FILE --chunk K");
  if (req.index === undefined) throw new CstError("USAGE", "run-one needs --index N");
  return { targets: [{ planFile: planFileOf(given), index: nonNegativeInt("--index", req.index) }], canary: null };
}

/** How each target is run: `runOne`'s options apart from the task itself. */
export type RunTargetOptions = Omit<RunOneOptions, "planFile" | "index" | "loaded" | "studyDir" | "lock" | "onCsttoolExit">;

/**
 * run-one's whole job: resolve the targets, then run them one after another (a chunk's subjects
 * in order), each with its own lock, timeout and record. An aborted `signal` stops before the
 * next target. `onOutcome` hears each outcome as it ends (a chunk can run for hours).
 */
export async function runTargets(
  req: RunTargetRequest & {
    run: RunTargetOptions;
    onOutcome?: (outcome: RunOneOutcome) => void;
    /** The submission's canary stopped this chunk: the plan indices not run (not failures) and the verdict. */
    onCanaryStop?: (stop: { notRun: number[]; verdict: CanaryVerdictFile }) => void;
  },
): Promise<RunOneOutcome[]> {
  const { targets, canary } = await resolveRunPlan(req);
  // Loaded only now: usage errors stay fast.
  const { runOne } = await import("./run-one.js");
  const canaryFile = canary && canary.k > 0 ? await import("./canary-file.js") : null;
  const outcomes: RunOneOutcome[] = [];
  for (const [i, target] of targets.entries()) {
    if (req.run.signal?.aborted) break;
    // The study-level verdict first: a broken environment stops the rest at once.
    const stop = canary && canaryFile ? canaryFile.readCanaryStop(canary.out, canary.submissionId) : null;
    if (stop) {
      req.onCanaryStop?.({ notRun: targets.slice(i).map((t) => t.index), verdict: stop });
      break;
    }
    const outcome = await runOne({ ...req.run, planFile: target.planFile, index: target.index });
    outcomes.push(outcome);
    if (canary && canaryFile && (outcome.kind === "success" || outcome.kind === "failed")) {
      canaryFile.noteCanaryOutcome(canary.out, canary.submissionId, canary.k, {
        key: outcome.task.key,
        category: outcome.kind === "failed" ? outcome.category : null,
        message: outcome.kind === "failed" ? outcome.record.message : null,
      });
    }
    req.onOutcome?.(outcome);
  }
  return outcomes;
}
