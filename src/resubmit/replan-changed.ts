import { checkInputs } from "../run/inputs.js";
import { buildNiftiInput } from "../plan/inputs.js";
import { configHash } from "../plan/hash.js";
import { taskLineOf } from "../plan/plan-format.js";
import { serializePlan, writePlanFiles, type PlanDraft } from "../plan/write-plan.js";
import type { Plan, PlanTask } from "../schemas/records.js";
import { describeOptionChanges, readManifestOptions } from "./manifest-options.js";

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
 */
export interface ReplanOutcome {
  plan: Plan;
  planPath: string;
  /** Tasks planned again (key, what changed). */
  replanned: Array<{ key: string; reason: string }>;
  /** Tasks left out of the rerun: their inputs are missing or cannot be planned again here. */
  blocked: Array<{ index: number; key: string; reason: string }>;
  /** What could not be checked (an unreadable manifest: options kept as planned). */
  notes: string[];
}

export async function replanChangedInputs(out: string, plan: Plan, planPath: string, indices: readonly number[], planAgain: (key: string) => string, dryRun = false): Promise<ReplanOutcome> {
  const replaced = new Map<number, PlanTask>();
  const replanned: ReplanOutcome["replanned"] = [];
  const blocked: ReplanOutcome["blocked"] = [];
  for (const i of indices) {
    const task = plan.tasks[i]!;
    const check = await checkInputs(task);
    if (check.ok) continue;
    if (check.category === "INPUT_MISSING") {
      blocked.push({ index: i, key: task.key, reason: `${check.message}; restore the files, then run this resubmit again (or if they moved: ${planAgain(task.key)})` });
      continue;
    }
    if (check.category !== "VALIDATION" || task.input.kind !== "nifti" || plan.schema_version !== 2) {
      blocked.push({ index: i, key: task.key, reason: `${check.message}; plan it again: ${planAgain(task.key)}` });
      continue;
    }
    const built = await buildNiftiInput(task.input.nifti, { subject: task.subject, session: task.session });
    if (!built.ok) {
      blocked.push({ index: i, key: task.key, reason: `${built.problems.map((p) => `${p.message} (${p.fix})`).join("; ")}` });
      continue;
    }
    const input = { ...built.input, entities: task.input.entities };
    replaced.set(i, { ...task, input, config_hash: configHash(task.options, input, plan.csttool.version) });
    replanned.push({ key: task.key, reason: check.message });
  }
  const notes: string[] = [];
  const stillSelected = indices.filter((i) => !blocked.some((b) => b.index === i));
  const manifest = plan.schema_version === 2 && stillSelected.length > 0 ? await readManifestOptions(out, plan, stillSelected.map((i) => plan.tasks[i]!.subject)) : { kind: "none" as const };
  if (manifest.kind === "unreadable") notes.push(manifest.note);
  if (manifest.kind === "read") {
    for (const i of stillSelected) {
      const task = replaced.get(i) ?? plan.tasks[i]!;
      const now = manifest.optionsOf(task.subject, task.session);
      if (now === null) continue; // no longer in the manifest: it runs as planned (`plan` drops it)
      if (now.problems.length > 0) {
        blocked.push({ index: i, key: task.key, reason: `its manifest entry is not valid now: ${now.problems.join("; ")}; fix the manifest, then run this resubmit again` });
        replaced.delete(i);
        continue;
      }
      const hash = configHash(now.options, task.input, plan.csttool.version);
      if (hash === task.config_hash) continue;
      const change = describeOptionChanges(task.options, now.options);
      replaced.set(i, { ...task, options: now.options, config_hash: hash });
      const earlier = replanned.find((r) => r.key === task.key);
      if (earlier) earlier.reason += `; options changed in the manifest: ${change}`;
      else replanned.push({ key: task.key, reason: `options changed in the manifest: ${change}` });
    }
  }
  if (replaced.size === 0 || dryRun) {
    const tasks = plan.tasks.map((t) => replaced.get(t.index) ?? t);
    return { plan: { ...plan, tasks }, planPath, replanned, blocked, notes };
  }
  const { schema_version: _v, kind: _k, plan_id: _id, created_at: _c, ...rest } = plan;
  const { tasks: _t, ...draftFields } = rest;
  const draft: PlanDraft = draftFields;
  const tasks = plan.tasks.map((t) => replaced.get(t.index) ?? t);
  const serialized = serializePlan(draft, tasks.map(taskLineOf));
  const written = writePlanFiles(out, serialized, new Date());
  return { plan: { ...serialized.header, created_at: written.createdAt, tasks }, planPath: written.planPath, replanned, blocked, notes };
}
