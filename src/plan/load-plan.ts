import fs, { promises as fsp } from "node:fs";
import { CstError, errnoCode } from "../errors.js";
import {
  PlanHeaderSchema,
  PlanRefsSchema,
  PlanSchema,
  PlanTaskSchema,
  SCHEMA_VERSION,
  type Plan,
  type PlanHeader,
  type PlanRefs,
  type PlanTask,
  type PlanTaskRef,
} from "../schemas/records.js";
import { formatZodIssues, readStateFile, readStateFileSync, requireState } from "../util/read-json.js";
import { closeQuietly } from "../util/quiet-fs.js";
import { forManyRecords } from "../schemas/zod.js";

const FIX = "re-create it with `cst-batch plan` (or point to another plan file)";

/** Read and fully validate a plan file; a missing, damaged or newer plan is a CstError naming the path. */
export async function loadPlan(file: string): Promise<Plan> {
  const plan = requireState(await readStateFile(file, forManyRecords(PlanSchema)), file, "plan", FIX);
  if (plan.task_count !== plan.tasks.length) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: task_count ${plan.task_count} but ${plan.tasks.length} tasks`, { hint: FIX });
  }
  plan.tasks.forEach((t, i) => {
    if (t.index !== i) throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: task ${i} has index ${t.index}`, { hint: FIX });
  });
  return plan;
}

/**
 * Every task of a plan, validated exactly as `loadPlan` validates them, each handed to `pick`
 * as soon as it is checked; only what `pick` returns is kept. For collect and status over
 * 10,000 tasks: the whole plan (~20 MB of JSON, ~140 MB parsed and validated) is never held at
 * once. A plan in cst-batch's own layout (see `sliceTask`) is parsed task by task, and its
 * pieces (header, tasks, the separators between them) make up the whole file, so a syntax error
 * anywhere is still found; any other layout, and any error, goes through `loadPlan`, which
 * gives the same errors it always gave.
 */
export async function loadPlanTasks<T>(file: string, pick: (task: PlanTask) => T): Promise<{ header: PlanHeader; tasks: T[] }> {
  let bytes: Buffer | null = null;
  try {
    bytes = await fsp.readFile(file);
  } catch {
    // loadPlan reports it
  }
  const fast = bytes === null ? null : pickTasksFromBytes(bytes, pick);
  if (fast !== null) return fast;
  const plan = await loadPlan(file);
  const { tasks, ...header } = plan;
  return { header, tasks: tasks.map(pick) };
}

export type { PlanTaskRef };

export function planTaskRef(t: PlanTask): PlanTaskRef {
  return { index: t.index, key: t.key, subject: t.subject, session: t.session, output_dir: t.output_dir, config_hash: t.config_hash };
}

/** `plans/<id>.json` -> `plans/<id>.refs.json`, `plan.json` -> `plan.refs.json`. */
export function planRefsPath(planFile: string): string {
  return `${planFile.replace(/\.json$/, "")}.refs.json`;
}

/** The refs sidecar of a plan whose file is `planBytes` long (see PlanRefsSchema). */
export function planRefsRecord(plan: Plan, planBytes: number): PlanRefs {
  return { schema_version: SCHEMA_VERSION, kind: "cst-batch-plan-refs", plan_id: plan.plan_id, plan_bytes: planBytes, tasks: plan.tasks.map(planTaskRef) };
}

/**
 * The plan's header (from its first bytes) with the tasks from its refs sidecar, when the
 * sidecar belongs to this very file: same plan_id, same size, one ref per task in index order.
 * null sends the caller to the plan itself.
 */
function refsFromSidecar(planFile: string): (PlanHeader & { tasks: PlanTaskRef[] }) | null {
  const head = readPlanHead(planFile);
  if (head === null) return null;
  const r = readStateFileSync(planRefsPath(planFile), forManyRecords(PlanRefsSchema));
  if (r.kind !== "ok") return null;
  const refs = r.value;
  if (refs.plan_id !== head.header.plan_id || refs.plan_bytes !== head.size || refs.tasks.length !== head.header.task_count) return null;
  if (!refs.tasks.every((t, i) => t.index === i)) return null;
  return { ...head.header, tasks: refs.tasks };
}

/** A plan's validated header and its file size, read from the head of a plan in cst-batch's layout; null otherwise. */
function readPlanHead(file: string): { header: PlanHeader; size: number } | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.allocUnsafe(Math.min(size, WINDOW));
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const tasksAt = head.subarray(0, n).indexOf(TASKS_START);
    if (tasksAt < 0) return null;
    const header = headerFromHead(head.toString("utf8", 0, tasksAt));
    return header === null ? null : { header, size };
  } catch {
    return null;
  } finally {
    closeQuietly(fd);
  }
}

/**
 * The plan of an output folder for status and collect: the header, and a `PlanTaskRef` of each
 * task (not the argv, options and inputs of 10,000 tasks). From the refs sidecar when it belongs
 * to this plan file (a few MB of JSON instead of ~20 MB); otherwise every task is validated as
 * `loadPlan` does. No plan at all is a usage error saying what to run.
 */
export async function loadPlanRefs(planFile: string, outDir: string): Promise<PlanHeader & { tasks: PlanTaskRef[] }> {
  try {
    await fsp.access(planFile);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") {
      throw new CstError("USAGE", `no plan in ${outDir} (looked for ${planFile})`, { hint: "run `cst-batch plan` or `cst-batch submit` with this folder as --out first" });
    }
  }
  const fromSidecar = refsFromSidecar(planFile);
  if (fromSidecar !== null) return fromSidecar;
  const { header, tasks } = await loadPlanTasks(planFile, planTaskRef);
  return { ...header, tasks };
}

/**
 * The header of a plan in cst-batch's layout from the text before its task list: validated, and
 * null when it does not parse or validate, or is of a newer schema (the full path says why).
 */
function headerFromHead(head: string): PlanHeader | null {
  let raw: unknown;
  try {
    raw = JSON.parse(head + '\n  "tasks": []\n}');
  } catch {
    return null;
  }
  const version = (raw as { schema_version?: unknown } | null)?.schema_version;
  if (typeof version === "number" && version > SCHEMA_VERSION) return null;
  const header = PlanHeaderSchema.safeParse(raw);
  return header.success ? header.data : null;
}

const TASKS_OPEN = '\n  "tasks": [\n    ';
const TASK_SEPARATOR = ",\n    ";
const NEXT_TASK = Buffer.from(TASK_SEPARATOR + "{");

/**
 * The layout-based walk of `loadPlanTasks` over the file's bytes (no 20 MB string of it is
 * made; each task is decoded on its own); null when it is not in that layout or has any error.
 */
function pickTasksFromBytes<T>(bytes: Buffer, pick: (task: PlanTask) => T): { header: PlanHeader; tasks: T[] } | null {
  const tasksAt = bytes.indexOf(TASKS_START);
  const end = PLAN_END.exec(bytes.toString("utf8", Math.max(0, bytes.length - 16)));
  if (tasksAt < 0 || end === null) return null;
  const closeAt = bytes.length - end[0].length;
  const header = headerFromHead(bytes.toString("utf8", 0, tasksAt));
  if (header === null) return null;
  const tasks: T[] = [];
  const taskSchema = forManyRecords(PlanTaskSchema);
  let pos = tasksAt + TASKS_OPEN.length;
  for (;;) {
    const close = bytes.indexOf(TASK_END, pos);
    if (close < 0 || close > closeAt) return null;
    let raw: unknown;
    try {
      raw = JSON.parse(bytes.toString("utf8", pos, close + TASK_END.length));
    } catch {
      return null;
    }
    const task = taskSchema.safeParse(raw);
    if (!task.success || task.data.index !== tasks.length) return null;
    tasks.push(pick(task.data));
    pos = close + TASK_END.length;
    if (pos === closeAt) break;
    if (bytes.compare(NEXT_TASK, 0, NEXT_TASK.length, pos, pos + NEXT_TASK.length) !== 0) return null;
    pos += TASK_SEPARATOR.length;
  }
  if (tasks.length !== header.task_count) return null;
  return { header, tasks };
}

/**
 * One task of a plan, validating only the header and that task (run-one calls this for every
 * array element). A plan in the layout cst-batch writes (JSON.stringify with 2-space indent, the
 * task list last, each task's "index" first) is not parsed whole: the header and the one task
 * are cut out of the file (see `sliceTask`), so a 10,000-task plan (~20 MB) costs a few small
 * reads instead of reading and parsing all of it. Any other layout, and any doubt, takes the
 * full path, which gives the same results and the same errors. One difference: damage in
 * another task's text (a hand edit; plans are written atomically and never changed) is not
 * seen by this call, which then runs its own intact task; `loadPlan` (collect, status,
 * submit) still reports it.
 */
export async function loadPlanTask(file: string, index: number): Promise<{ header: PlanHeader; task: PlanTask }> {
  let sliced: SlicedTask | null;
  try {
    sliced = sliceTask(file, index);
  } catch {
    sliced = null;
  }
  if (sliced !== null) {
    const fast = checkSliced(file, index, sliced);
    if (fast !== null) return fast;
  }
  return loadPlanTaskFull(file, index);
}

/** The header (the text before the task list) and one task of a plan, cut out of the file without parsing it. */
interface SlicedTask {
  headerText: string;
  taskText: string;
}

/** Where the task list starts in a plan written by cst-batch (top level, indent 2, non-empty). */
const TASKS_START = Buffer.from('\n  "tasks": [\n    {');
/** How such a plan ends: the task list closes, then the plan object. */
const PLAN_END = /\n {2}\]\n\}\n?$/;
/** A task's closing brace at indent 4: nested values are indented deeper, strings hold no raw newline. */
const TASK_END = Buffer.from("\n    }");
/** Read size for the head of the file and for the window around a task's estimated offset. */
const WINDOW = 256 * 1024;

/**
 * Cut the header and task `index` out of a plan in cst-batch's own layout; null when the file
 * is not in that layout (or is small enough that cutting saves nothing). A raw newline only
 * occurs between JSON tokens, so `\n  "tasks": [` can only be the top-level key, and
 * `\n    {\n      "index": N,\n` only the start of the task with index N. Reads the head, the
 * last bytes and a window around the task's estimated offset; the whole file only when the
 * task is not in that window.
 */
function sliceTask(file: string, index: number): SlicedTask | null {
  if (!Number.isInteger(index) || index < 0) return null;
  // Blocking reads: a handful of small ones, and run-one then never starts the thread pool.
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= WINDOW) return null;
    const read = (start: number, length: number): Buffer => {
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - start)));
      let off = 0;
      while (off < buf.length) {
        const bytesRead = fs.readSync(fd, buf, off, buf.length - off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return buf.subarray(0, off);
    };
    const head = read(0, WINDOW);
    const tasksAt = head.indexOf(TASKS_START);
    if (tasksAt < 0) return null;
    const tail = read(size - 16, 16).toString("utf8");
    if (!PLAN_END.test(tail)) return null;
    const headerText = head.subarray(0, tasksAt).toString("utf8");

    const marker = Buffer.from(`\n    {\n      "index": ${index},\n`);
    const found = (buf: Buffer, base: number): SlicedTask | null => {
      const at = buf.indexOf(marker, Math.max(0, tasksAt - base));
      if (at < 0) return null;
      const end = buf.indexOf(TASK_END, at + 1);
      if (end < 0) return null;
      const after = buf[end + TASK_END.length];
      if (after !== 0x2c /* , */ && after !== 0x0a /* \n */) return null;
      return { headerText, taskText: buf.subarray(at + 5, end + TASK_END.length).toString("utf8") };
    };
    // Tasks are of similar size: look around where task `index` would be first.
    const count = Number(/"task_count": (\d+),/.exec(headerText)?.[1] ?? NaN);
    if (Number.isInteger(count) && count > 0) {
      const per = (size - tasksAt) / count;
      const start = Math.max(0, Math.floor(tasksAt + per * index - WINDOW / 2));
      const hit = found(read(start, WINDOW + Math.ceil(per) * 2), start);
      if (hit !== null) return hit;
    }
    return found(read(0, size), 0);
  } finally {
    closeQuietly(fd);
  }
}

/** The checks of the full path on a sliced header and task; null when they cannot decide. */
function checkSliced(file: string, index: number, sliced: SlicedTask): { header: PlanHeader; task: PlanTask } | null {
  let rawTask: unknown;
  try {
    rawTask = JSON.parse(sliced.taskText);
  } catch {
    return null;
  }
  const header = headerFromHead(sliced.headerText);
  if (header === null || index >= header.task_count) return null;
  const task = PlanTaskSchema.safeParse(rawTask);
  if (!task.success || task.data.index !== index) return null;
  return { header, task: task.data };
}

/** loadPlanTask by parsing the whole file: any layout, and every error message. */
async function loadPlanTaskFull(file: string, index: number): Promise<{ header: PlanHeader; task: PlanTask }> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new CstError("INVALID_INPUT", `plan not found: ${file}`, { hint: FIX });
    throw new CstError("CORRUPT_STATE", `plan ${file} cannot be read: ${(e as Error).message}`, { hint: "check the file's permissions", cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: not valid JSON (${(e as Error).message})`, { hint: FIX });
  }
  const version = (raw as { schema_version?: unknown } | null)?.schema_version;
  if (typeof version === "number" && version > SCHEMA_VERSION) {
    throw new CstError("NEWER_SCHEMA", `plan ${file} has schema_version ${version}, newer than this cst-batch understands (${SCHEMA_VERSION})`, {
      hint: "upgrade cst-batch, or re-create the plan with this version",
    });
  }
  const header = PlanHeaderSchema.safeParse(raw);
  if (!header.success) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: ${formatZodIssues(header.error).slice(0, 5).join("; ")}`, { hint: FIX });
  }
  if (!Number.isInteger(index) || index < 0 || index >= header.data.task_count) {
    throw new CstError("INVALID_INPUT", `task index ${index} is out of range: plan ${file} has ${header.data.task_count} task(s) (0..${header.data.task_count - 1})`, {
      hint: "check --index / the array task id against the plan",
    });
  }
  const tasks = (raw as { tasks?: unknown }).tasks;
  const rawTask = Array.isArray(tasks) ? tasks[index] : undefined;
  const task = PlanTaskSchema.safeParse(rawTask);
  if (!task.success) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: tasks[${index}]: ${formatZodIssues(task.error).slice(0, 5).join("; ")}`, { hint: FIX });
  }
  if (task.data.index !== index) {
    throw new CstError("CORRUPT_STATE", `plan ${file} is damaged: tasks[${index}] has index ${task.data.index}`, { hint: FIX });
  }
  return { header: header.data, task: task.data };
}
