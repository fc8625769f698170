import { promises as fsp } from "node:fs";
import { taskPaths } from "../layout.js";
import type { PlanTask } from "../schemas/plan.js";
import { readDoneState } from "../state/done.js";
import { FS_CONCURRENCY, mapLimit } from "./pool.js";
import type { ResumeInfo } from "./replan.js";

/** Resume state of every task, reading `_done.json` only where the subject folder exists. */
export async function resumeStates(out: string, tasks: readonly PlanTask[]): Promise<ResumeInfo[]> {
  const none: ResumeInfo = { state: "new", doneHash: null };
  let present: Set<string>;
  try {
    present = new Set(await fsp.readdir(out));
  } catch {
    return tasks.map(() => none);
  }
  return mapLimit(tasks, FS_CONCURRENCY, async (task): Promise<ResumeInfo> => {
    if (!present.has(task.subject)) return none;
    const state = await readDoneState(taskPaths(out, task).done, task.config_hash);
    const inputHashes = state.kind === "current" || state.kind === "outdated" ? state.record.input_hashes : undefined;
    const hashes = inputHashes !== undefined ? { inputHashes } : {};
    // The task's own string (the same text): 200,000 done subjects hold no second copy of their hashes.
    if (state.kind === "current") return { state: "done", doneHash: task.config_hash, ...hashes };
    if (state.kind === "outdated") return { state: "changed", doneHash: state.record.config_hash, ...hashes };
    return none;
  });
}
