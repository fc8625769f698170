import fs from "node:fs";
import type { PlanTask } from "../schemas/plan.js";
import { currentPlanFile, loadPlanTasks, scanPlanTaskFile, type PlanTaskFile } from "./load-plan.js";
import { CompactNiftiInput, compactInput } from "./compact-input.js";
import { ChangeReasons, describeTaskChange } from "./change-reasons.js";

export { ChangeReasons, describeTaskChange };

/**
 * "Re-plans explain themselves": what a new plan changes against the current one, per reason
 * (Snakemake's reason lines), and the rule that protects done results: a change that would turn
 * done subjects into reruns is applied only with `rerunChanged`; otherwise the new plan carries
 * the task of the plan that made the result (its options and input identity), so it stays done.
 */

/** Where a task stands against the output folder: done (same hash), changed (done with another), new (never done). */
export type ResumeState = "done" | "changed" | "new";

/** What the planner knows of a task's done record: its state, and the config hash a changed one was made with. */
export interface ResumeInfo {
  state: ResumeState;
  /**
   * A changed task's done-record config hash (null with `asPlanned`); done: the task's own (may be
   * null: shared objects), new: null. Read it through `doneHashOf`.
   */
  doneHash: string | null;
  /** Changed, and its done record's config hash is the previous plan's for the task (held there, not here: 188,000 touched subjects). */
  asPlanned?: true;
  /**
   * The done record holds the content hashes run-one recorded for the bytes csttool ran on
   * (src/run/input-hashes.ts). Only the flag is held (200,000 done subjects): the few a re-plan
   * compares are read again (src/plan/resume-states.ts `recordedInputHashes`).
   */
  hashesRecorded?: true;
}

/** The config hash a task's done record was made with (`prevHash`: the previous plan's for the task), else null. */
export function doneHashOf(info: ResumeInfo, prevHash: string | undefined): string | null {
  return info.asPlanned === true ? (prevHash ?? null) : info.doneHash;
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

/**
 * The current plan as a re-plan needs it (issue 21: a 200,000-task study re-planned in bounded
 * memory): its keys in plan order and each task's config hash (the done-protection compares
 * them), and its tasks read back from the file one at a time, only for the few a reason line or
 * a kept done result needs (`task`). About 60 bytes a task instead of the task. `close` releases
 * the file.
 */
export interface PreviousPlan {
  /** The csttool version it was planned with. */
  version: string;
  /** Its task count. */
  size: number;
  /** The task's position in the previous plan, or undefined when it was not planned. */
  indexOf(key: string): number | undefined;
  /** The config hash the task had, or undefined when it was not planned. */
  hashOf(key: string): string | undefined;
  /** The whole task as it was planned (read back from the plan), or undefined when it was not planned or cannot be read. */
  task(key: string): PlanTask | undefined;
  /** Its keys in plan order. */
  keys(): IterableIterator<string>;
  close(): void;
}

const SHA256 = /^sha256:[0-9a-f]{64}$/;

/** Config hashes held as 32 bytes each (`sha256:<hex>`, what the planner makes), others as text; grows as set. */
class HashTable {
  private bytes: Buffer;
  private readonly other = new Map<number, string>();
  constructor(size: number) {
    this.bytes = Buffer.alloc(size * 32);
  }
  /** Set hash `index`; returns the table (this one, grown when needed). */
  set(index: number, hash: string): HashTable {
    if ((index + 1) * 32 > this.bytes.length) {
      const bigger = Buffer.alloc(Math.max((index + 1) * 32, this.bytes.length * 2));
      this.bytes.copy(bigger);
      this.bytes = bigger;
    }
    if (SHA256.test(hash)) this.bytes.write(hash.slice(7), index * 32, 32, "hex");
    else this.other.set(index, hash);
    return this;
  }
  get(index: number): string {
    return this.other.get(index) ?? `sha256:${this.bytes.toString("hex", index * 32, index * 32 + 32)}`;
  }
}

/** The current plan for a re-plan, or null when there is none (or it cannot be read: then nothing is explained). */
export async function previousPlan(out: string): Promise<PreviousPlan | null> {
  const file = currentPlanFile(out);
  if (!fs.existsSync(file)) return null;
  let reader: PlanTaskFile | null = null;
  try {
    const at = new Map<string, number>();
    let hashes: HashTable | null = null;
    reader = scanPlanTaskFile(file, (t) => {
      hashes ??= new HashTable(Math.max(0, t.index) + 1024);
      at.set(t.key, t.index);
      hashes = hashes.set(t.index, t.config_hash);
    });
    if (reader === null) return await wholePreviousPlan(file);
    const r = reader;
    const table = hashes ?? new HashTable(0);
    const read = (key: string): PlanTask | undefined => {
      const index = at.get(key);
      if (index === undefined) return undefined;
      try {
        const t = r.read(index);
        return t.key === key ? { ...t, input: compactInput(t.input) } : undefined;
      } catch {
        return undefined;
      }
    };
    return {
      version: r.header.csttool.version,
      size: at.size,
      indexOf: (key) => at.get(key),
      hashOf: (key) => {
        const index = at.get(key);
        return index === undefined ? undefined : table.get(index);
      },
      task: read,
      keys: () => at.keys(),
      close: () => r.close(),
    };
  } catch {
    reader?.close();
    return null;
  }
}

/** A schema-1 plan (one JSON object, from an earlier cst-batch, small): its tasks held whole. */
async function wholePreviousPlan(file: string): Promise<PreviousPlan> {
  const { header, tasks } = await loadPlanTasks(file, (t) => ({ ...t, input: compactInput(t.input) }));
  const byKey = new Map(tasks.map((t) => [t.key, t]));
  const index = new Map(tasks.map((t, i) => [t.key, i]));
  return {
    version: header.csttool.version,
    size: byKey.size,
    indexOf: (key) => index.get(key),
    hashOf: (key) => byKey.get(key)?.config_hash,
    task: (key) => byKey.get(key),
    keys: () => byKey.keys(),
    close: () => undefined,
  };
}

/**
 * The new plan's tasks and states with done results protected (unless `rerunChanged`), and the
 * reason groups. `previous` is the current plan (keys, hashes, tasks read back); `versions.before` its csttool version.
 */
export function reconcileReplan(input: {
  /** The new plan's tasks, handed over: a kept task whose previous options a known set explains is given them (and its hash) in place. */
  tasks: readonly PlanTask[];
  resume: readonly ResumeInfo[];
  previous: PreviousPlan | null;
  previousVersion: string | null;
  version: string;
  rerunChanged: boolean;
  /** Done tasks whose inputs only got new mtimes, with the same bytes (src/plan/content-hash.ts). */
  sameContent?: ReadonlySet<string>;
  /** Done tasks whose same-size inputs got new mtimes and other bytes (their hashes differ). */
  contentChanged?: ReadonlySet<string>;
  /** The reasons found so far (keepSameContent's); a new one for `previousVersion` → `version` when not given. */
  reasons?: ChangeReasons;
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
  const previous = input.previous;
  // Reasons found without reading each previous task back where its options explain it.
  const reasons = input.reasons ?? new ChangeReasons(versions);
  const keptOptions = new Map<string, PlanTask["options"]>();
  // Which of the previous plan's tasks are planned again (the rest are "removed").
  const planned = new Uint8Array(previous?.size ?? 0);
  let kept = 0;
  input.tasks.forEach((task, i) => {
    const info = input.resume[i]!;
    const prevIndex = previous?.indexOf(task.key);
    if (prevIndex !== undefined) planned[prevIndex] = 1;
    const prevHash = previous?.hashOf(task.key);
    if (input.sameContent?.has(task.key) === true) add("done", "input touched (modified time), content unchanged", "same", task.key);
    if (info.state === "changed") {
      // A kept done result needs the whole previous task (it goes into the new plan); a rerun only its reason.
      const keep = !input.rerunChanged && prevHash !== undefined && prevHash === doneHashOf(info, prevHash);
      // Its hash explained by a known options set: the previous task is this one with those options (not read back).
      const explained = keep && prevHash !== undefined ? reasons.explained(task, prevHash) : undefined;
      if (explained !== undefined && prevHash !== undefined) {
        // Changed in place (see `tasks` above): 188,000 kept tasks at 200,000 made no second object each (417 -> 389 MB).
        task.options = explained.options;
        task.config_hash = prevHash;
        tasks.push(task);
        states.push("done");
        add("done", explained.reason, "kept", task.key);
        kept++;
        return;
      }
      const prev = keep ? previous?.task(task.key) : undefined;
      let reason = "done with another configuration";
      if (prev !== undefined) reason = describeTaskChange(prev, task, versions);
      else if (!keep && prevHash !== undefined && previous !== null) reason = reasons.reasonFor(task, prevHash, () => previous.task(task.key)) ?? reason;
      if (input.contentChanged?.has(task.key) === true) reason = reason.replace("input changed (modified time)", "input changed (content)");
      if (keep && prev !== undefined) {
        tasks.push(keptTask(prev, task, i, keptOptions, doneHashOf(info, prevHash) ?? prev.config_hash));
        states.push("done");
        add("done", reason, "kept", task.key);
        kept++;
        return;
      }
      add("done", reason, "rerun", task.key);
    } else if (info.state === "new") {
      if (prevHash === undefined) {
        if (previous !== null) add("new", "new", "run", task.key);
      } else if (prevHash !== task.config_hash && previous !== null) {
        add("pending", reasons.reasonFor(task, prevHash, () => previous.task(task.key)) ?? "configuration changed", "run", task.key);
      }
    }
    tasks.push(task);
    states.push(info.state);
  });
  if (previous !== null) {
    let k = 0;
    for (const key of previous.keys()) {
      if (planned[previous.indexOf(key) ?? k] !== 1) add("removed", "no longer planned (its results, if any, stay in place)", "dropped", key);
      k++;
    }
  }
  return { tasks, states, groups: [...groups.values()], kept };
}

/**
 * A kept done result's task as it was planned, at position `index` of the new plan, sharing what
 * equals the new task's (the input, key, subject, session and folder: the same values, so the same
 * line), the config hash it was made with (`configHash`: the done record's string, the same text)
 * and one options object per distinct set (`interned`): 200,000 kept tasks are not 200,000 copies
 * of what the study already holds.
 */
function keptTask(prev: PlanTask, now: PlanTask, index: number, interned: Map<string, PlanTask["options"]>, configHash: string): PlanTask {
  const same = <T>(a: T, b: T): T => (a === b ? b : a);
  const input = prev.input instanceof CompactNiftiInput && now.input instanceof CompactNiftiInput && prev.input.sameAs(now.input) ? now.input : prev.input;
  const text = JSON.stringify(prev.options);
  let options = interned.get(text);
  if (options === undefined) {
    options = prev.options;
    if (interned.size < 256) interned.set(text, options);
  }
  // Every field named (no spread): the properties sit in the object.
  return {
    index,
    key: same(prev.key, now.key),
    subject: same(prev.subject, now.subject),
    session: same(prev.session, now.session),
    input,
    options,
    config_hash: configHash,
    output_dir: same(prev.output_dir, now.output_dir),
  };
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
