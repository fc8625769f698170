import fs from "node:fs";
import { CstError, errnoCode } from "../errors.js";
import { readLines as taskLines } from "../util/line-reader.js";
import { currentPlanPath, legacyCurrentPlanPath, planIndexPath } from "../layout.js";
import { PlanTaskSchema, type Plan, type PlanHeader, type PlanTask, type PlanTaskLine, type PlanTaskRef } from "../schemas/plan.js";
import { forManyRecords } from "../schemas/zod.js";
import { formatZodIssues } from "../util/read-json.js";
import { closeQuietly } from "../util/quiet-fs.js";
import { decodeTask } from "./plan-format.js";
import { readFirstLine, readFirstLineOf, type PlanHead } from "./plan-head.js";
import { readTaskSpan } from "./plan-index.js";
import { checkIndex, loadPlanTaskV1, loadPlanV1, newerPlan, PLAN_FIX } from "./plan-v1.js";

/**
 * Reading a plan file (docs/architecture.md, "The plan file"). A schema-2 plan is JSON Lines:
 * run-one reads the header line and its own task's line, found through the offsets file; status
 * and collect stream the task lines, keeping what `pick` returns. A schema-1 plan (one JSON
 * object) goes to src/plan/plan-v1.ts. Errors name the file: missing (INVALID_INPUT), damaged
 * (CORRUPT_STATE), newer (NEWER_SCHEMA).
 */

export type { PlanTaskRef };

/** The current plan of a study folder: `plan.jsonl`, or a schema-1 study's `plan.json` while it has no other. */
export function currentPlanFile(out: string): string {
  const current = currentPlanPath(out);
  if (fs.existsSync(current)) return current;
  const legacy = legacyCurrentPlanPath(out);
  return fs.existsSync(legacy) ? legacy : current;
}

export function planTaskRef(t: PlanTask): PlanTaskRef {
  return { index: t.index, key: t.key, subject: t.subject, session: t.session, output_dir: t.output_dir, config_hash: t.config_hash };
}

function damaged(file: string, reason: string): CstError {
  return new CstError("CORRUPT_STATE", `plan ${file} is damaged: ${reason}`, { hint: PLAN_FIX });
}

/** The first line of a plan: a schema-2 header, or "v1"; every other outcome is thrown. `fd`: the plan, already open. */
function headOf(file: string, fd?: number): Extract<PlanHead, { kind: "v2" | "v1" }> {
  const head = fd === undefined ? readFirstLine(file) : readFirstLineOf(fd);
  if (head === null) {
    try {
      fs.accessSync(file);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw new CstError("INVALID_INPUT", `plan not found: ${file}`, { hint: PLAN_FIX });
      throw new CstError("CORRUPT_STATE", `plan ${file} cannot be read: ${(e as Error).message}`, { hint: "check the file's permissions", cause: e });
    }
    throw new CstError("CORRUPT_STATE", `plan ${file} cannot be opened`, { hint: "check the file's permissions" });
  }
  if (head.kind === "newer") throw newerPlan(file, head.version);
  if (head.kind === "damaged") throw damaged(file, head.reason);
  return head;
}

/** A task line's text checked against the schema and its position; the reason when it fails. */
function checkTaskLine(text: string, index: number, schema: typeof PlanTaskSchema): PlanTaskLine | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return `line ${index + 2} (task ${index}) is not valid JSON (${(e as Error).message})`;
  }
  const task = schema.safeParse(raw);
  if (!task.success) return `task ${index}: ${formatZodIssues(task.error).slice(0, 5).join("; ")}`;
  if (task.data.index !== index) return `line ${index + 2} holds task ${task.data.index}, not task ${index}`;
  return task.data;
}

export interface PlanTaskFile {
  header: PlanHeader;
  /** Task `index` read back from its line (validated again); the file must still be the one scanned. */
  read(index: number): PlanTask;
  /** Close the descriptor `read` opened (if it did). */
  close(): void;
}

/** A task line's index, key and config hash, checked for their types and position; the reason when they fail. */
function keyAndHash(text: string, index: number): { index: number; key: string; config_hash: string } | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return `line ${index + 2} (task ${index}) is not valid JSON (${(e as Error).message})`;
  }
  const t = raw as { index?: unknown; key?: unknown; config_hash?: unknown } | null;
  if (t === null || typeof t !== "object" || typeof t.key !== "string" || typeof t.config_hash !== "string") return `task ${index}: no key or config_hash`;
  if (t.index !== index) return `line ${index + 2} holds task ${String(t.index)}, not task ${index}`;
  return { index, key: t.key, config_hash: t.config_hash };
}

/**
 * Scan a plan's tasks in order (each one's index, key and config hash handed to `fn`), then read tasks back by index
 * (a re-plan keeps only the previous plan's keys and config hashes, and reads back the few tasks
 * a reason line or a kept done result needs). The scan records each line's offset (8 bytes a
 * task, not the `.idx`) and the file's identity (device, inode, size, mtime): a read opens the
 * file again and refuses a file that is no longer the one scanned. Null for a schema-1 plan (one
 * JSON object: read it whole). Errors as loadPlan's.
 */
export function scanPlanTaskFile(file: string, fn: (task: { index: number; key: string; config_hash: string }) => void): PlanTaskFile | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    headOf(file); // says why (missing, unreadable)
    throw new CstError("CORRUPT_STATE", `plan ${file} cannot be opened`, { hint: "check the file's permissions" });
  }
  let header: PlanHeader;
  let starts: Float64Array;
  let identity: string;
  try {
    const head = headOf(file, fd);
    if (head.kind === "v1") return null;
    header = head.header;
    const st = fs.fstatSync(fd);
    identity = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    starts = new Float64Array(header.task_count + 1);
    let index = 0;
    for (const line of taskLines(fd, head.headerEnd, st.size)) {
      if (!line.done) throw damaged(file, `its last line does not end (the file was cut short?)`);
      if (index >= header.task_count) throw damaged(file, `more task lines than task_count ${header.task_count}`);
      // Only what is kept is checked here (the whole line is validated when it is read back):
      // a scan of 200,000 lines through the schema leaves more garbage than the plan being made.
      const task = keyAndHash(line.text, index);
      if (typeof task === "string") throw damaged(file, task);
      starts[index] = line.start;
      index++;
      fn(task);
    }
    if (index !== header.task_count) throw damaged(file, `task_count ${header.task_count} but ${index} task lines`);
    starts[index] = st.size;
  } finally {
    closeQuietly(fd);
  }
  let readFd: number | null = null;
  const h = header;
  return {
    header: h,
    read: (index) => {
      checkIndex(file, index, h.task_count);
      if (readFd === null) {
        const again = fs.openSync(file, "r");
        const st = fs.fstatSync(again);
        if (`${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}` !== identity) {
          closeQuietly(again);
          throw damaged(file, "it was replaced after it was read");
        }
        readFd = again;
      }
      const start = starts[index] as number;
      const buf = Buffer.allocUnsafe((starts[index + 1] as number) - start);
      if (fs.readSync(readFd, buf, 0, buf.length, start) !== buf.length || buf[buf.length - 1] !== 0x0a) throw damaged(file, `task ${index} cannot be read back`);
      const task = checkTaskLine(buf.toString("utf8", 0, buf.length - 1), index, PlanTaskSchema);
      if (typeof task === "string") throw damaged(file, task);
      return decodeTask(task, h.input_root);
    },
    close: () => {
      if (readFd !== null) closeQuietly(readFd);
      readFd = null;
    },
  };
}

/**
 * Every task of a plan, validated, each handed to `pick` as soon as it is read; only what `pick`
 * returns is kept, so a schema-2 plan is read in bounded memory whatever its size.
 */
export async function loadPlanTasks<T>(file: string, pick: (task: PlanTask) => T): Promise<{ header: PlanHeader; tasks: T[] }> {
  const plan = await openPlanTasks(file);
  try {
    const tasks: T[] = [];
    await plan.forEach((t) => {
      tasks.push(pick(t));
    });
    return { header: plan.header, tasks };
  } finally {
    plan.close();
  }
}

/**
 * A plan whose tasks can be read in order, more than once, without holding them: status reads
 * a 200,000-task plan twice (once with the subject folders, once to make the rows) from one
 * descriptor, so a plan replaced in between (a rename) is not mixed with the first.
 */
export interface PlanTasks {
  header: PlanHeader;
  /** Every task, validated, in order; `fn` may be async (it is awaited). */
  forEach(fn: (task: PlanTask) => void | Promise<void>): Promise<void>;
  close(): void;
}

export async function openPlanTasks(file: string): Promise<PlanTasks> {
  const head = headOf(file);
  if (head.kind === "v1") {
    // Schema 1 (one JSON object, from an earlier cst-batch): read whole, as it always was.
    const { tasks, ...header } = await loadPlanV1(file);
    return {
      header,
      forEach: async (fn) => {
        for (const t of tasks) await fn(t);
      },
      close: () => undefined,
    };
  }
  const { header } = head;
  const schema = forManyRecords(PlanTaskSchema);
  const fd = fs.openSync(file, "r");
  const size = fs.fstatSync(fd).size;
  return {
    header,
    forEach: async (fn) => {
      let index = 0;
      for (const line of taskLines(fd, head.headerEnd, size)) {
        if (!line.done) throw damaged(file, `its last line does not end (the file was cut short?)`);
        if (index >= header.task_count) throw damaged(file, `more task lines than task_count ${header.task_count}`);
        const task = checkTaskLine(line.text, index, schema);
        if (typeof task === "string") throw damaged(file, task);
        index++;
        const r = fn(decodeTask(task, header.input_root));
        if (r) await r;
      }
      if (index !== header.task_count) throw damaged(file, `task_count ${header.task_count} but ${index} task lines`);
    },
    close: () => closeQuietly(fd),
  };
}

/** Read and fully validate a plan file (any schema); a missing, damaged or newer plan is a CstError naming the path. */
export async function loadPlan(file: string): Promise<Plan> {
  const { header, tasks } = await loadPlanTasks(file, (t) => t);
  return { ...header, tasks };
}

/** No plan at all is a usage error saying what to run. */
function requirePlan(planFile: string, outDir: string): void {
  if (!fs.existsSync(planFile)) {
    throw new CstError("USAGE", `no plan in ${outDir} (looked for ${planFile})`, { hint: "run `cst-batch plan` or `cst-batch submit` with this folder as --out first" });
  }
}

/**
 * The plan of an output folder for status and collect: the header, and a `PlanTaskRef` of each
 * task. No plan at all is a usage error saying what to run.
 */
export async function loadPlanRefs(planFile: string, outDir: string): Promise<PlanHeader & { tasks: PlanTaskRef[] }> {
  requirePlan(planFile, outDir);
  const { header, tasks } = await loadPlanTasks(planFile, planTaskRef);
  return { ...header, tasks };
}

/**
 * The plan of an output folder as a stream of `PlanTaskRef`s (status and collect of a large
 * study: never all of them at once); read as often as needed, from one descriptor.
 */
export interface PlanRefs {
  header: PlanHeader;
  forEach(fn: (task: PlanTaskRef) => void | Promise<void>): Promise<void>;
  close(): void;
}

export async function openPlanRefs(planFile: string, outDir: string): Promise<PlanRefs> {
  requirePlan(planFile, outDir);
  const plan = await openPlanTasks(planFile);
  return { header: plan.header, forEach: (fn) => plan.forEach((t) => fn(planTaskRef(t))), close: () => plan.close() };
}

/**
 * One task of a plan, validating only the header and that task (run-one, once per array
 * element). Schema 2: the header line, then the task's line at the offsets the `.idx` file gives;
 * when those bytes are not exactly one whole line holding task `index` (no offsets file, or one
 * of another plan), the lines are read in order up to it. The cost does not grow with the plan.
 */
export async function loadPlanTask(file: string, index: number): Promise<{ header: PlanHeader; task: PlanTask }> {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    headOf(file); // says why (missing, unreadable)
    throw new CstError("CORRUPT_STATE", `plan ${file} cannot be opened`, { hint: "check the file's permissions" });
  }
  try {
    // One descriptor for the header and the task line: one open on the study filesystem.
    const head = headOf(file, fd);
    if (head.kind === "v1") return await loadPlanTaskV1(file, index);
    const { header } = head;
    checkIndex(file, index, header.task_count);
    const line = taskAtOffsets(file, fd, head, index) ?? taskByScan(file, fd, head, index);
    return { header, task: decodeTask(line, header.input_root) };
  } finally {
    closeQuietly(fd);
  }
}

/** Task `index` from where the offsets file says its line is; null unless those bytes are that whole line. */
function taskAtOffsets(file: string, fd: number, head: Extract<PlanHead, { kind: "v2" }>, index: number): PlanTaskLine | null {
  const span = readTaskSpan(planIndexPath(file), index);
  if (span === null || span.headerEnd !== head.headerEnd || span.end > head.size) return null;
  // One byte before the line: it must follow a newline and end with one.
  const buf = Buffer.allocUnsafe(span.end - span.start + 1);
  if (fs.readSync(fd, buf, 0, buf.length, span.start - 1) !== buf.length) return null;
  if (buf[0] !== 0x0a || buf[buf.length - 1] !== 0x0a) return null;
  const task = checkTaskLine(buf.toString("utf8", 1, buf.length - 1), index, PlanTaskSchema);
  return typeof task === "string" ? null : task;
}

/** Task `index` by reading the task lines in order (errors say what is wrong with the plan). */
function taskByScan(file: string, fd: number, head: Extract<PlanHead, { kind: "v2" }>, index: number): PlanTaskLine {
  let k = 0;
  for (const line of taskLines(fd, head.headerEnd, head.size)) {
    if (k === index) {
      if (!line.done) throw damaged(file, `its last line does not end (the file was cut short?)`);
      const task = checkTaskLine(line.text, index, PlanTaskSchema);
      if (typeof task === "string") throw damaged(file, task);
      return task;
    }
    k++;
  }
  throw damaged(file, `task_count ${head.header.task_count} but ${k} task lines`);
}
