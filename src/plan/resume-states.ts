import { promises as fsp } from "node:fs";
import { taskPaths } from "../layout.js";
import type { PlanTask } from "../schemas/plan.js";
import type { InputHash } from "../schemas/records.js";
import { readDoneState, readDoneStateSync } from "../state/done.js";
import type { ResumeInfo } from "./replan.js";

const NONE: ResumeInfo = Object.freeze({ state: "new", doneHash: null });
// Done with the task's own hash: two shared objects, none per subject (200,000 done subjects).
const DONE: ResumeInfo = Object.freeze({ state: "done", doneHash: null });
const DONE_RECORDED: ResumeInfo = Object.freeze({ state: "done", doneHash: null, hashesRecorded: true });
// Done with the previous plan's task (a touched input, or options changed since): shared too.
const AS_PLANNED: ResumeInfo = Object.freeze({ state: "changed", doneHash: null, asPlanned: true });
const AS_PLANNED_RECORDED: ResumeInfo = Object.freeze({ state: "changed", doneHash: null, asPlanned: true, hashesRecorded: true });

/** Done with the task's own hash (`recorded`: its record has input hashes): one of two shared objects. */
export function doneResume(recorded: boolean): ResumeInfo {
  return recorded ? DONE_RECORDED : DONE;
}

/** Tasks read between two turns of the event loop (a signal is still heard while 200,000 are read). */
const YIELD_EVERY = 1024;

/**
 * Resume state of every task, reading `_done.json` only where the subject folder exists. The
 * reads are blocking (one small file each) in a plain loop: no promise or record outlives its
 * task, so a study of 200,000 done subjects leaves no garbage behind in the old generation.
 * `previousHash`: the previous plan's config hash of a task key (a record made with it is held
 * as a shared state, `asPlanned`).
 */
export async function resumeStates(out: string, tasks: readonly PlanTask[], previousHash?: (key: string) => string | undefined): Promise<ResumeInfo[]> {
  let present: Set<string>;
  try {
    present = new Set(await fsp.readdir(out));
  } catch {
    return tasks.map(() => NONE);
  }
  const states = new Array<ResumeInfo>(tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise<void>((r) => setImmediate(r));
    states[i] = resumeOf(out, tasks[i]!, present, previousHash);
  }
  return states;
}

function resumeOf(out: string, task: PlanTask, present: ReadonlySet<string>, previousHash: ((key: string) => string | undefined) | undefined): ResumeInfo {
  if (!present.has(task.subject)) return NONE;
  const state = readDoneStateSync(taskPaths(out, task).done, task.config_hash);
  if (state.kind !== "current" && state.kind !== "outdated") return NONE;
  const recorded = state.record.input_hashes !== undefined;
  if (state.kind === "current") return doneResume(recorded);
  if (previousHash?.(task.key) === state.record.config_hash) return recorded ? AS_PLANNED_RECORDED : AS_PLANNED;
  return { state: "changed", doneHash: state.record.config_hash, ...(recorded ? { hashesRecorded: true as const } : {}) };
}

/** The input hashes run-one recorded in a task's `_done.json` (read again: resume states hold only that there are some). */
export async function recordedInputHashes(out: string, task: PlanTask): Promise<readonly InputHash[] | undefined> {
  const state = await readDoneState(taskPaths(out, task).done, task.config_hash);
  return state.kind === "current" || state.kind === "outdated" ? state.record.input_hashes : undefined;
}
