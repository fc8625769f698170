import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { currentPlanPath, legacyCurrentPlanPath, planFilePath, planIndexPath } from "../layout.js";
import { PLAN_SCHEMA_VERSION, type PlanHeader, type PlanTaskLine } from "../schemas/plan.js";
import { writeFileAtomicSync } from "../util/atomic-write.js";
import { mkdirConfined } from "../util/confined-fs.js";
import { rmQuietly } from "../util/quiet-fs.js";
import { encodeTaskLine } from "./plan-format.js";
import { encodePlanIndex } from "./plan-index.js";
import { readFirstLine } from "./plan-head.js";
import { planHeaderLine } from "./write-plan-stream.js";

/** A plan's header before its id and time are known (schema_version and kind are added here). */
export type PlanDraft = Omit<PlanHeader, "schema_version" | "kind" | "plan_id" | "created_at">;

/** A plan ready to be written: its header line's fields and its task lines (no newlines). */
export interface SerializedPlan {
  header: Omit<PlanHeader, "created_at"> & { schema_version: typeof PLAN_SCHEMA_VERSION };
  lines: string[];
}

const headerLine = planHeaderLine;

/**
 * Encode the tasks (in index order) and derive the plan id from the content: the sha-256 of the
 * header line with an empty plan_id and created_at, then every task line, hashed as each line is
 * made. Planning the same inputs twice gives the same id; when it was planned does not count.
 * This form holds every line (resubmit's re-plan, tests); `plan` writes through
 * src/plan/write-plan-stream.ts, which gives the same bytes without holding them.
 */
export function serializePlan(draft: PlanDraft, tasks: Iterable<PlanTaskLine>): SerializedPlan {
  const base = { schema_version: PLAN_SCHEMA_VERSION, kind: "cst-batch-plan" as const, plan_id: "", ...draft };
  const hash = createHash("sha256").update(headerLine(base, "") + "\n");
  const lines: string[] = [];
  for (const task of tasks) {
    const line = encodeTaskLine(task, draft.input_root);
    hash.update(line + "\n");
    lines.push(line);
  }
  return { header: { ...base, plan_id: hash.digest("hex").slice(0, 16) }, lines };
}

/** The header line and where each task line starts in the file, and its size. */
function layoutOf(plan: SerializedPlan, createdAt: string): { head: string; starts: number[]; size: number } {
  const head = headerLine(plan.header, createdAt) + "\n";
  const starts: number[] = [];
  let at = Buffer.byteLength(head);
  for (const line of plan.lines) {
    starts.push(at);
    at += Buffer.byteLength(line) + 1;
  }
  return { head, starts, size: at };
}

/** Write one plan file and its offsets file, each atomically (the offsets first). */
export function writePlanFileSync(file: string, plan: SerializedPlan, createdAt: string, root?: string): void {
  const { head, starts, size } = layoutOf(plan, createdAt);
  const opts = root === undefined ? {} : { root };
  writeFileAtomicSync(planIndexPath(file), encodePlanIndex(starts, size), opts);
  writeFileAtomicSync(file, pieces(head, plan.lines), opts);
}

function* pieces(head: string, lines: readonly string[]): Iterable<string> {
  yield head;
  for (const line of lines) yield line + "\n";
}

/**
 * Write `plans/<plan_id>.jsonl` (only when not already there: it is immutable, and an existing
 * one keeps its created_at) with its offsets, then the current plan `plan.jsonl` / `plan.idx`:
 * copies, not hard links, so that a file copied over the current plan (`cp`) can never change
 * the immutable one an array points at. A study's schema-1 `plan.json` and `plan.refs.json` are
 * removed. Returns the plan file and its created_at.
 */
export function writePlanFiles(out: string, plan: SerializedPlan, now: Date): { planPath: string; createdAt: string } {
  const planPath = planFilePath(out, plan.header.plan_id);
  mkdirConfined(out, path.dirname(planPath));
  const existing = readFirstLine(planPath);
  const previous = existing?.kind === "v2" && existing.header.plan_id === plan.header.plan_id ? existing.header.created_at : null;
  const createdAt = previous ?? now.toISOString();
  // Same id, same created_at and same size: the file already holds exactly these bytes.
  const intact = previous !== null && existing?.kind === "v2" && existing.size === layoutOf(plan, createdAt).size && fs.existsSync(planIndexPath(planPath));
  if (!intact) writePlanFileSync(planPath, plan, createdAt, out);
  writePlanFileSync(currentPlanPath(out), plan, createdAt, out);
  rmQuietly(legacyCurrentPlanPath(out));
  rmQuietly(path.join(path.dirname(currentPlanPath(out)), "plan.refs.json"));
  return { planPath, createdAt };
}
