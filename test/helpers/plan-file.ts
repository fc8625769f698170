import { readFileSync } from "node:fs";
import path from "node:path";
import { decodeTask } from "../../src/plan/plan-format.js";
import type { Plan } from "../../src/schemas/records.js";

/** A schema-2 plan file read synchronously for assertions: header fields and decoded tasks (absolute input paths). */
export function readPlanFile(file: string): Plan {
  const [head, ...lines] = readFileSync(file, "utf8").trimEnd().split("\n");
  const header = JSON.parse(head!) as Omit<Plan, "tasks">;
  return { ...header, tasks: lines.map((l) => decodeTask(JSON.parse(l), header.input_root)) };
}

/** The current plan of a study folder (`.cst-batch/plan.jsonl`). */
export function readCurrentPlan(out: string): Plan {
  return readPlanFile(path.join(out, ".cst-batch", "plan.jsonl"));
}
