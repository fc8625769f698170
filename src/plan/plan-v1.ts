import { promises as fsp } from "node:fs";
import { CstError, errnoCode } from "../errors.js";
import { PlanTaskV1Schema, PlanV1HeaderSchema, PlanV1Schema, type Plan, type PlanHeader, type PlanTask } from "../schemas/plan.js";
import { forManyRecords } from "../schemas/zod.js";
import { formatZodIssues, readStateFile, requireState } from "../util/read-json.js";

/**
 * Plans of schema 1 (cst-batch before the JSON Lines plan): one JSON object, read whole, so that
 * studies planned then keep working (run-one, status, collect, resubmit) until they are planned
 * again. Their tasks' baked `csttool_argv` and `dicom_link_dir` are dropped: run-one builds the
 * argv from the task as for a schema-2 plan (the same table made that argv).
 */
export const PLAN_FIX = "re-create it with `cst-batch plan` (or point to another plan file)";

type V1Header = ReturnType<typeof PlanV1HeaderSchema.parse>;
type V1Task = ReturnType<typeof PlanTaskV1Schema.parse>;

function headerOfV1(h: V1Header): PlanHeader {
  const { skipped, ...rest } = h;
  // input_root "": a schema-1 plan's input paths are all absolute.
  return { ...rest, skipped, input_root: "" };
}

function taskOfV1(t: V1Task): PlanTask {
  return { index: t.index, key: t.key, subject: t.subject, session: t.session, input: t.input, options: t.options, config_hash: t.config_hash, output_dir: t.output_dir };
}

/** A whole schema-1 plan, validated; a missing, damaged or newer plan is a CstError naming the path. */
export async function loadPlanV1(file: string): Promise<Plan> {
  const plan = requireState(await readStateFile(file, forManyRecords(PlanV1Schema)), file, "plan", PLAN_FIX);
  if (plan.task_count !== plan.tasks.length) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: task_count ${plan.task_count} but ${plan.tasks.length} tasks`, { hint: PLAN_FIX });
  }
  plan.tasks.forEach((t, i) => {
    if (t.index !== i) throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: task ${i} has index ${t.index}`, { hint: PLAN_FIX });
  });
  const { tasks, ...header } = plan;
  return { ...headerOfV1(header), tasks: tasks.map(taskOfV1) };
}

/** The header and task `index` of a schema-1 plan: the file is parsed whole, only these two validated. */
export async function loadPlanTaskV1(file: string, index: number): Promise<{ header: PlanHeader; task: PlanTask }> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new CstError("INVALID_INPUT", `plan not found: ${file}`, { hint: PLAN_FIX });
    throw new CstError("CORRUPT_STATE", `plan ${file} cannot be read: ${(e as Error).message}`, { hint: "check the file's permissions", cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: not valid JSON (${(e as Error).message})`, { hint: PLAN_FIX });
  }
  const version = (raw as { schema_version?: unknown } | null)?.schema_version;
  if (typeof version === "number" && version > 1) throw newerPlan(file, version);
  const header = PlanV1HeaderSchema.safeParse(raw);
  if (!header.success) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: ${formatZodIssues(header.error).slice(0, 5).join("; ")}`, { hint: PLAN_FIX });
  }
  checkIndex(file, index, header.data.task_count);
  const tasks = (raw as { tasks?: unknown }).tasks;
  const task = PlanTaskV1Schema.safeParse(Array.isArray(tasks) ? tasks[index] : undefined);
  if (!task.success) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: tasks[${index}]: ${formatZodIssues(task.error).slice(0, 5).join("; ")}`, { hint: PLAN_FIX });
  }
  if (task.data.index !== index) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: tasks[${index}] has index ${task.data.index}`, { hint: PLAN_FIX });
  }
  return { header: headerOfV1(header.data), task: taskOfV1(task.data) };
}

/** A plan of a schema this cst-batch does not know. */
export function newerPlan(file: string, version: number): CstError {
  return new CstError("NEWER_SCHEMA", `plan ${file} has schema_version ${version}, newer than this cst-batch understands (2)`, {
    hint: "upgrade cst-batch, or re-create the plan with this version",
  });
}

/** `index` must name a task of a plan with `count` tasks. */
export function checkIndex(file: string, index: number, count: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new CstError("INVALID_INPUT", `task index ${index} is out of range: plan ${file} has ${count} task(s) (0..${count - 1})`, {
      hint: "check --index / the array task id against the plan",
    });
  }
}
