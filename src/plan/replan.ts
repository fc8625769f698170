import fs from "node:fs";
import type { CsttoolOptions } from "../schemas/options.js";
import type { PlanTask, TaskInput } from "../schemas/plan.js";
import type { InputHash } from "../schemas/records.js";
import { currentPlanFile, loadPlanTasks } from "./load-plan.js";
import { showValue } from "./options.js";
import { compactInput } from "./compact-input.js";

/**
 * "Re-plans explain themselves": what a new plan changes against the current one, per reason
 * (Snakemake's reason lines), and the rule that protects done results: a change that would turn
 * done subjects into reruns is applied only with `rerunChanged`; otherwise the new plan carries
 * the task of the plan that made the result (its options and input identity), so it stays done.
 */

/** Where a task stands against the output folder: done (same hash), changed (done with another), new (never done). */
export type ResumeState = "done" | "changed" | "new";

/** What the planner knows of a task's done record: its state, and the config hash it was made with. */
export interface ResumeInfo {
  state: ResumeState;
  doneHash: string | null;
  /** The content hashes run-one recorded in `_done.json` for the bytes csttool ran on (src/run/input-hashes.ts). */
  inputHashes?: readonly InputHash[];
}

/** One reason line: the tasks it applies to (plan order), why, and what becomes of them. */
export interface ReplanGroup {
  /** done: done tasks whose configuration changed; pending: planned before, not done, changed; new; removed. */
  kind: "done" | "pending" | "new" | "removed";
  reason: string;
  /** rerun: done results replaced by a new run; kept: done results kept (needs rerunChanged to rerun); same: only mtimes changed, same bytes (stays done); run; dropped. */
  verdict: "rerun" | "kept" | "same" | "run" | "dropped";
  keys: string[];
}

export interface Reconciled {
  tasks: PlanTask[];
  states: ResumeState[];
  groups: ReplanGroup[];
  /** Done tasks kept with the settings that made them (0 with rerunChanged). */
  kept: number;
}

/** The current plan's tasks by key and its csttool version, or null when there is none (or it cannot be read: then nothing is explained). */
export async function previousTasks(out: string): Promise<{ tasks: Map<string, PlanTask>; version: string } | null> {
  const file = currentPlanFile(out);
  if (!fs.existsSync(file)) return null;
  try {
    // Held compactly (a study of 200,000 tasks): NIfTI inputs in the planner's form, one object per distinct options.
    const options = new Map<string, CsttoolOptions>();
    const { header, tasks } = await loadPlanTasks(file, (t) => {
      const text = JSON.stringify(t.options);
      const shared = options.get(text) ?? t.options;
      options.set(text, shared);
      return { ...t, input: compactInput(t.input), options: shared };
    });
    return { tasks: new Map(tasks.map((t) => [t.key, t])), version: header.csttool.version };
  } catch {
    return null;
  }
}

/** `fa_thr 0.2 → 0.15`, one per changed option key. */
function optionChanges(a: CsttoolOptions, b: CsttoolOptions): string[] {
  const oa = a as Record<string, unknown>;
  const ob = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(oa), ...Object.keys(ob)])].sort();
  const out: string[] = [];
  for (const k of keys) {
    if (JSON.stringify(oa[k]) === JSON.stringify(ob[k])) continue;
    out.push(`${k} ${oa[k] === undefined ? "(default)" : showValue(oa[k])} → ${ob[k] === undefined ? "(default)" : showValue(ob[k])}`);
  }
  return out;
}

/** Why an input differs: path, size or time, in that order of weight. */
function inputChanges(a: TaskInput, b: TaskInput): string[] {
  if (a.kind !== b.kind) return [`input ${a.kind} → ${b.kind}`];
  if (a.kind === "nifti" && b.kind === "nifti") {
    if (a.nifti !== b.nifti) return ["input changed (other DWI file)"];
    const before = new Map(a.identity.map((f) => [f.path, f]));
    const after = new Map(b.identity.map((f) => [f.path, f]));
    if (before.size !== after.size || [...after.keys()].some((p) => !before.has(p))) return ["input changed (files added or removed)"];
    if ([...after.values()].some((f) => before.get(f.path)!.size !== f.size)) return ["input changed (size)"];
    if ([...after.values()].some((f) => before.get(f.path)!.mtime_ms !== f.mtime_ms)) return ["input changed (modified time)"];
    return [];
  }
  if (a.kind === "dicom" && b.kind === "dicom") {
    if (a.dicom_dir !== b.dicom_dir || a.series_uid !== b.series_uid) return ["input changed (other DICOM folder or series)"];
    if (a.identity.file_count !== b.identity.file_count) return ["input changed (file count)"];
    if (a.identity.total_size !== b.identity.total_size) return ["input changed (size)"];
    if (a.identity.newest_mtime_ms !== b.identity.newest_mtime_ms) return ["input changed (modified time)"];
  }
  return [];
}

/** What differs between the task as planned before and now; csttool version, options, input. */
export function describeTaskChange(before: PlanTask, after: PlanTask, versions: { before: string | null; after: string }): string {
  const reasons: string[] = [];
  if (versions.before !== null && versions.before !== versions.after) reasons.push(`csttool ${versions.before} → ${versions.after}`);
  reasons.push(...optionChanges(before.options, after.options), ...inputChanges(before.input, after.input));
  return reasons.length > 0 ? reasons.join(", ") : "configuration changed";
}

/**
 * The new plan's tasks and states with done results protected (unless `rerunChanged`), and the
 * reason groups. `previous` is the current plan's tasks; `versions.before` its csttool version.
 */
export function reconcileReplan(input: {
  tasks: readonly PlanTask[];
  resume: readonly ResumeInfo[];
  previous: Map<string, PlanTask> | null;
  previousVersion: string | null;
  version: string;
  rerunChanged: boolean;
  /** Done tasks whose inputs only got new mtimes, with the same bytes (src/plan/content-hash.ts). */
  sameContent?: ReadonlySet<string>;
  /** Done tasks whose same-size inputs got new mtimes and other bytes (their hashes differ). */
  contentChanged?: ReadonlySet<string>;
}): Reconciled {
  const tasks: PlanTask[] = [];
  const states: ResumeState[] = [];
  const groups = new Map<string, ReplanGroup>();
  const add = (kind: ReplanGroup["kind"], reason: string, verdict: ReplanGroup["verdict"], key: string): void => {
    const id = `${kind}\u0000${reason}\u0000${verdict}`;
    const g = groups.get(id);
    if (g) g.keys.push(key);
    else groups.set(id, { kind, reason, verdict, keys: [key] });
  };
  const versions = { before: input.previousVersion, after: input.version };
  let kept = 0;
  input.tasks.forEach((task, i) => {
    const info = input.resume[i]!;
    const prev = input.previous?.get(task.key);
    if (input.sameContent?.has(task.key) === true) add("done", "input touched (modified time), content unchanged", "same", task.key);
    if (info.state === "changed") {
      let reason = prev ? describeTaskChange(prev, task, versions) : "done with another configuration";
      if (input.contentChanged?.has(task.key) === true) reason = reason.replace("input changed (modified time)", "input changed (content)");
      if (!input.rerunChanged && prev !== undefined && prev.config_hash === info.doneHash) {
        tasks.push({ ...prev, index: i });
        states.push("done");
        add("done", reason, "kept", task.key);
        kept++;
        return;
      }
      add("done", reason, "rerun", task.key);
    } else if (info.state === "new") {
      if (prev === undefined) {
        if (input.previous !== null) add("new", "new", "run", task.key);
      } else if (prev.config_hash !== task.config_hash) add("pending", describeTaskChange(prev, task, versions), "run", task.key);
    }
    tasks.push(task);
    states.push(info.state);
  });
  if (input.previous !== null) {
    const now = new Set(input.tasks.map((t) => t.key));
    for (const key of input.previous.keys()) if (!now.has(key)) add("removed", "no longer planned (its results, if any, stay in place)", "dropped", key);
  }
  return { tasks, states, groups: [...groups.values()], kept };
}

/** One reason line: `sub-001…sub-042 done (42): fa_thr 0.2 → 0.15 — would rerun`. */
export function formatReplanGroup(g: ReplanGroup, dryRun: boolean): string {
  const will = dryRun ? "would" : "will";
  const keys = g.keys.length <= 3 ? g.keys.join(", ") : `${g.keys[0]}…${g.keys[g.keys.length - 1]}`;
  const label = g.kind === "new" || g.kind === "removed" ? `${g.kind}${g.keys.length > 3 ? ` (${g.keys.length})` : ""}` : `${g.kind}${g.keys.length > 3 ? ` (${g.keys.length})` : ""}: ${g.reason}`;
  const verdict =
    g.verdict === "rerun" ? `${will} rerun` : g.verdict === "kept" ? "kept done with the settings that made them (--rerun-changed reruns them)" : g.verdict === "same" ? "stays done" : g.verdict === "run" ? `${will} run` : "dropped from the plan";
  return `${keys} ${label} — ${verdict}`;
}
