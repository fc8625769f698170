import { promises as fsp } from "node:fs";
import path from "node:path";
import type { PlanOutcome } from "../../src/plan/planner.js";
import type { PlanTask } from "../../src/schemas/plan.js";
import { csttoolArgv } from "../../src/run/csttool-argv.js";

/** The planned outcome, or a thrown error listing the problems. */
export function planned(o: PlanOutcome): Extract<PlanOutcome, { kind: "planned" }> {
  if (o.kind !== "planned") throw new Error(`expected a plan, got problems:\n${o.problems.map((p) => `${p.severity} ${p.category} ${p.message}`).join("\n")}`);
  return o;
}

/** A `_done.json` for `task` as run-one writes it (no files), made with config hash `configHash`. */
export async function writeDoneFor(out: string, plan: { plan_id: string; csttool: { executable: string } }, task: PlanTask, configHash: string = task.config_hash): Promise<void> {
  const dir = path.join(out, task.output_dir);
  await fsp.mkdir(dir, { recursive: true });
  const record = {
    schema_version: 1,
    kind: "cst-batch-done",
    subject: task.subject,
    session: task.session,
    task_key: task.key,
    config_hash: configHash,
    plan_id: plan.plan_id,
    csttool_version: "0.5.0",
    cst_batch_version: "0.1.0",
    started_at: "2024-01-01T00:00:00Z",
    finished_at: "2024-01-01T01:00:00Z",
    duration_seconds: 3600,
    host: "node1",
    pid: 1,
    job_id: null,
    csttool_argv: csttoolArgv(plan.csttool.executable, task, dir),
    exit_code: 0,
    files: [],
    metrics_file: null,
  };
  await fsp.writeFile(path.join(dir, "_done.json"), JSON.stringify(record));
}
