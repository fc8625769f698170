import { promises as fsp } from "node:fs";
import { taskPaths } from "../layout.js";
import type { PlanTask } from "../schemas/plan.js";
import type { InputHash } from "../schemas/records.js";
import { readDoneState } from "../state/done.js";
import { FS_CONCURRENCY, mapLimit } from "./pool.js";
import type { ResumeInfo } from "./replan.js";

const NONE: ResumeInfo = { state: "new", doneHash: null };

/** Resume state of every task, reading `_done.json` only where the subject folder exists. */
export async function resumeStates(out: string, tasks: readonly PlanTask[]): Promise<ResumeInfo[]> {
  let present: Set<string>;
  try {
    present = new Set(await fsp.readdir(out));
  } catch {
    return tasks.map(() => NONE);
  }
  return mapLimit(tasks, FS_CONCURRENCY, async (task): Promise<ResumeInfo> => {
    if (!present.has(task.subject)) return NONE;
    const state = await readDoneState(taskPaths(out, task).done, task.config_hash);
    if (state.kind !== "current" && state.kind !== "outdated") return NONE;
    const recorded = state.record.input_hashes !== undefined ? { hashesRecorded: true as const } : {};
    // The task's own string (the same text): 200,000 done subjects hold no second copy of their hashes.
    if (state.kind === "current") return { state: "done", doneHash: task.config_hash, ...recorded };
    return { state: "changed", doneHash: state.record.config_hash, ...recorded };
  });
}

/** The input hashes run-one recorded in a task's `_done.json` (read again: resume states hold only that there are some). */
export async function recordedInputHashes(out: string, task: PlanTask): Promise<readonly InputHash[] | undefined> {
  const state = await readDoneState(taskPaths(out, task).done, task.config_hash);
  return state.kind === "current" || state.kind === "outdated" ? state.record.input_hashes : undefined;
}
