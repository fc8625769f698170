import path from "node:path";
import { SCHEMA_VERSION, type AttemptStart, type DoneRecord, type FailureCategory, type InputHash } from "../schemas/records.js";
import { rmQuietly } from "../util/quiet-fs.js";
import { findConflicts, ownedFiles, type StagedEntry } from "./ownership.js";
import { buildAttemptRecord, fsTimestamp, type RunIdentity } from "./attempt.js";
import { applyPromotion, findMetricsFile, listFiles, stageOutput, STAGED_DIR, writeJournal, PromotionConflictError, type PromoteJournal } from "./promote.js";
import { type SuperviseResult } from "./supervise.js";
import { explainNoMetrics, readAttemptLog } from "./csttool-outcome.js";
import { noteSubjectLog } from "../events/subject-log.js";
import { pauseForTest } from "../util/test-pause.js";
import type { AttemptContext } from "./attempt-flow.js";
import type { RunOneOutcome } from "./outcome.js";

/** A successful run's output becomes the subject's result, unless files cst-batch did not create are in the way. */
export async function promote(
  ctx: AttemptContext,
  p: {
    csttoolOut: string;
    identity: (finished: Date) => RunIdentity;
    result: SuperviseResult;
    fail: (category: FailureCategory, message: string, r?: Partial<SuperviseResult>, nextStep?: string | null) => Promise<RunOneOutcome>;
    start: AttemptStart;
    /** The inputs' content hashes (null: not read; none for DICOM), or the inputs that changed while csttool ran. */
    inputs?: { hashes: InputHash[] | null } | { changedDuringRun: string[] };
    /** Whether `_failed_attempts/` was there when the attempt started (true when not known). */
    hadFailedAttempts?: boolean;
  },
): Promise<RunOneOutcome> {
  const { task, paths, ref, out } = ctx;
  const staged = path.join(paths.work, STAGED_DIR);
  const prefix = task.session ? `${task.subject}_${task.session}` : task.subject;
  let files: { path: string; size: number }[];
  let metricsFile: string | null;
  // The staged folders' listings, from the one walk that lists the files (findConflicts and the journal reuse them).
  const tree = new Map<string, readonly StagedEntry[]>();
  try {
    const top = await stageOutput(p.csttoolOut, staged, task.subject, task.session);
    files = await listFiles(staged, tree, top);
    metricsFile = findMetricsFile(files, prefix);
  } catch (e) {
    return p.fail("SYSTEM", `cannot gather csttool's output: ${(e as Error).message}`, p.result);
  }
  if (!metricsFile) {
    const expected = `${task.subject}/${task.session ? `${task.session}/` : ""}reports/*_metrics.json or metrics/*_bilateral_metrics.json`;
    const log = await readAttemptLog(paths.log);
    const why = await explainNoMetrics(staged, files, expected, log.length > 0 ? log : p.result.logTail, ctx.study);
    return p.fail(why.category, why.message, p.result, why.nextStep);
  }
  const finished = new Date();
  const done: DoneRecord = {
    schema_version: SCHEMA_VERSION,
    kind: "cst-batch-done",
    ...p.identity(finished),
    exit_code: 0,
    files,
    metrics_file: metricsFile,
    ...inputFields(p.inputs),
    had_failed_attempts: p.hadFailedAttempts ?? true,
  };
  let replaces: string[];
  const seen = { done: true };
  try {
    replaces = ownedFiles(paths.dir, seen);
    const conflicts = findConflicts(paths.dir, staged, new Set(replaces), tree);
    if (conflicts.length > 0 && !ctx.opts.adoptExisting) {
      const e = new PromotionConflictError(paths.dir, conflicts);
      return p.fail("SYSTEM", `${e.message} (csttool's output is kept with this attempt)`, p.result, conflictNextStep(paths.dir, conflicts));
    }
    replaces.push(...conflicts);
  } catch (e) {
    return p.fail("SYSTEM", `cannot check the subject folder before promoting: ${(e as Error).message}`, p.result);
  }
  let journal: PromoteJournal;
  try {
    journal = { schema_version: SCHEMA_VERSION, kind: "cst-batch-promote", done, entries: (tree.get("") ?? []).map((e) => e.name).sort(), replaces };
    await writeJournal(paths.work, journal);
    pauseForTest("journal-written");
  } catch (e) {
    rmQuietly(path.join(paths.work, "promote.json"));
    return p.fail("SYSTEM", `cannot write the promotion journal: ${(e as Error).message}; nothing was promoted`, p.result);
  }
  try {
    await applyPromotion(out, paths.dir, journal, { checked: true, noDone: !seen.done });
  } catch (e) {
    // The journal stays; the next run on this subject finishes the promotion before anything else.
    const message = `promotion interrupted: ${(e as Error).message}; the next run of this subject finishes it`;
    const record = buildAttemptRecord(`${fsTimestamp(finished)}_SYSTEM`, p.identity(finished), {
      category: "SYSTEM",
      message,
      exitCode: 0,
      signal: null,
      logTail: p.result.logTail,
      study: ctx.study,
    });
    return { kind: "failed", task: ref, category: "SYSTEM", record, attemptDir: null };
  }
  rmQuietly(paths.errorLog);
  const changed = done.inputs_changed_during_run ?? [];
  noteSubjectLog(paths.out, paths.log, [
    ...(changed.length > 0 ? [`warning: input(s) changed while csttool ran (size or modified time): ${changed.join(", ")}; their content hash is not recorded, so a later plan reports them changed`] : []),`promoted ${files.length} file(s) into ${paths.dir}; _done.json written`, `outcome: success in ${done.duration_seconds.toFixed(1)} s`]);
  return { kind: "success", task: ref, record: done };
}

/** The done record's input fields: hashes of the bytes csttool ran on, or the inputs that changed during the run. */
function inputFields(inputs: { hashes: InputHash[] | null } | { changedDuringRun: string[] } | undefined): Pick<DoneRecord, "input_hashes" | "inputs_changed_during_run"> {
  if (inputs === undefined) return {};
  if ("changedDuringRun" in inputs) return { inputs_changed_during_run: inputs.changedDuringRun };
  return inputs.hashes !== null && inputs.hashes.length > 0 ? { input_hashes: inputs.hashes } : {};
}

/** What to do about foreign files in the way of a result. */
function conflictNextStep(taskDir: string, conflicts: readonly string[]): string {
  const first = path.join(taskDir, conflicts[0] ?? "");
  return `move the file(s) cst-batch did not create out of ${taskDir} (e.g. ${first}), or let cst-batch replace them with --adopt-existing; then run the subject again`;
}
