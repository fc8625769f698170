import { checkInputs } from "../run/inputs.js";
import { buildNiftiInput } from "../plan/inputs.js";
import { configHash } from "../plan/hash.js";
import { scanPlanTaskFile } from "../plan/load-plan.js";
import { taskLineOf } from "../plan/plan-format.js";
import { writePlanStream } from "../plan/write-plan-stream.js";
import type { PlanDraft } from "../plan/write-plan.js";
import type { Plan, PlanTask } from "../schemas/records.js";
import { CstError } from "../errors.js";
import { describeOptionChanges, readManifestOptions } from "./manifest-options.js";
import { forEachSelectedTask } from "./selected-tasks.js";

/**
 * Fix-and-rerun in one command: before `resubmit` runs its selection, each selected task's inputs
 * are checked against the plan (as run-one would, just before csttool). A NIfTI task whose files
 * changed (a fixed `.bval`, a replaced DWI) is planned again on its own: its input identity is
 * read afresh (with the planner's own checks) and its configuration hash recomputed; every other
 * task keeps its line, so done subjects stay done. The result is a new immutable plan, made
 * current. A task whose inputs are missing, or that cannot be planned again here (a DICOM series,
 * a schema-1 plan), is left out of the rerun with the reason and the command that fixes it.
 * In a manifest study, a task whose options changed in the manifest (its own `options`, or the
 * manifest's) is planned again with them the same way (src/resubmit/manifest-options.ts).
 *
 * Only the selected tasks are read (src/resubmit/selected-tasks.ts), one at a time; what is kept
 * is the tasks planned again. A new plan is written as a stream of the old one's lines with those
 * replaced: a 200,000-task study is never held (docs/scale.md).
 */
export interface ReplanOutcome {
  /** The plan to run: a new one when tasks were planned again (not in a dry run), else the one given. */
  planPath: string;
  /** The tasks planned again, by index (in a dry run they are not written: the caller uses these). */
  replaced: Map<number, PlanTask>;
  /** Tasks planned again (key, what changed). */
  replanned: Array<{ key: string; reason: string }>;
  /** Tasks left out of the rerun: their inputs are missing or cannot be planned again here. */
  blocked: Array<{ index: number; key: string; reason: string }>;
  /** What could not be checked (an unreadable manifest: options kept as planned). */
  notes: string[];
}

/** `header`: the plan's fields but its tasks; `indices` ascending. */
export async function replanChangedInputs(out: string, header: Omit<Plan, "tasks">, planPath: string, indices: readonly number[], planAgain: (key: string) => string, dryRun = false): Promise<ReplanOutcome> {
  const replaced = new Map<number, PlanTask>();
  const replanned: ReplanOutcome["replanned"] = [];
  const blocked: ReplanOutcome["blocked"] = [];
  const blockedSet = new Set<number>();
  const block = (index: number, key: string, reason: string): void => {
    blocked.push({ index, key, reason });
    blockedSet.add(index);
  };
  const subjects = new Set<string>();
  await forEachSelectedTask(planPath, header.task_count, indices, async (task) => {
    const i = task.index;
    const check = await checkInputs(task);
    if (check.ok) {
      subjects.add(task.subject);
      return;
    }
    if (check.category === "INPUT_MISSING") {
      block(i, task.key, `${check.message}; restore the files, then run this resubmit again (or if they moved: ${planAgain(task.key)})`);
      return;
    }
    if (check.category !== "VALIDATION" || task.input.kind !== "nifti" || header.schema_version !== 2) {
      block(i, task.key, `${check.message}; plan it again: ${planAgain(task.key)}`);
      return;
    }
    const built = await buildNiftiInput(task.input.nifti, { subject: task.subject, session: task.session });
    if (!built.ok) {
      block(i, task.key, `${built.problems.map((p) => `${p.message} (${p.fix})`).join("; ")}`);
      return;
    }
    const input = { ...built.input, entities: task.input.entities };
    replaced.set(i, { ...task, input, config_hash: configHash(task.options, input, header.csttool.version) });
    replanned.push({ key: task.key, reason: check.message });
    subjects.add(task.subject);
  });
  const notes: string[] = [];
  const stillSelected = indices.filter((i) => !blockedSet.has(i));
  const manifest = header.schema_version === 2 && stillSelected.length > 0 ? await readManifestOptions(out, header, [...subjects]) : { kind: "none" as const };
  if (manifest.kind === "unreadable") notes.push(manifest.note);
  if (manifest.kind === "read") {
    const manifestBlocked: ReplanOutcome["blocked"] = [];
    await forEachSelectedTask(planPath, header.task_count, stillSelected, (planned) => {
      const i = planned.index;
      const task = replaced.get(i) ?? planned;
      const now = manifest.optionsOf(task.subject, task.session);
      if (now === null) return; // no longer in the manifest: it runs as planned (`plan` drops it)
      if (now.problems.length > 0) {
        manifestBlocked.push({ index: i, key: task.key, reason: `its manifest entry is not valid now: ${now.problems.join("; ")}; fix the manifest, then run this resubmit again` });
        replaced.delete(i);
        return;
      }
      const hash = configHash(now.options, task.input, header.csttool.version);
      if (hash === task.config_hash) return;
      const change = describeOptionChanges(task.options, now.options);
      replaced.set(i, { ...task, options: now.options, config_hash: hash });
      const earlier = replanned.find((r) => r.key === task.key);
      if (earlier) earlier.reason += `; options changed in the manifest: ${change}`;
      else replanned.push({ key: task.key, reason: `options changed in the manifest: ${change}` });
    });
    blocked.push(...manifestBlocked);
  }
  if (replaced.size === 0 || dryRun) return { planPath, replaced, replanned, blocked, notes };
  return { planPath: writeReplaced(out, planPath, replaced), replaced, replanned, blocked, notes };
}

/** A new current plan: every line of `planPath` (schema 2) but those of `replaced`, read one at a time as it is written. */
function writeReplaced(out: string, planPath: string, replaced: ReadonlyMap<number, PlanTask>): string {
  const scan = scanPlanTaskFile(planPath, () => undefined);
  if (scan === null) throw new CstError("CORRUPT_STATE", `plan ${planPath} is not a schema-2 plan: its tasks cannot be planned again here`, { hint: `run \`cst-batch plan --out ${out}\`` });
  try {
    const { schema_version: _v, kind: _k, plan_id: _id, created_at: _c, ...draft } = scan.header;
    const count = scan.header.task_count;
    function* lines(): Generator<ReturnType<typeof taskLineOf>> {
      for (let i = 0; i < count; i++) yield taskLineOf(replaced.get(i) ?? scan!.read(i));
    }
    return writePlanStream(out, draft as PlanDraft, lines(), new Date()).planPath;
  } finally {
    scan.close();
  }
}
