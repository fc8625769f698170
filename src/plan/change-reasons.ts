import type { CsttoolOptions } from "../schemas/options.js";
import type { PlanTask, TaskInput } from "../schemas/plan.js";
import { canonicalJson, configHasher } from "./hash.js";
import { showValue } from "./options.js";

/**
 * Why a task of a re-plan differs from the task the current plan has for it (its reason line),
 * and a cache that finds that reason without reading the previous task back (issue 21: a
 * re-plan of 200,000 tasks where every task changed, e.g. `--fa-thr`, read each previous task
 * back from the plan file for its reason: 462 MB and ~30 µs a task).
 */

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

export interface Versions {
  before: string | null;
  after: string;
}

function joinReasons(versions: Versions, changes: string[]): string {
  const reasons: string[] = [];
  if (versions.before !== null && versions.before !== versions.after) reasons.push(`csttool ${versions.before} → ${versions.after}`);
  reasons.push(...changes);
  return reasons.length > 0 ? reasons.join(", ") : "configuration changed";
}

/** What differs between the task as planned before and now; csttool version, options, input. */
export function describeTaskChange(before: PlanTask, after: PlanTask, versions: Versions): string {
  return joinReasons(versions, [...optionChanges(before.options, after.options), ...inputChanges(before.input, after.input)]);
}

/** Previous options sets tried for each task before it is read back. */
const CANDIDATES = 4;

/**
 * Reason lines without reading the previous task back. A task's config hash is the sha-256 of
 * the csttool version, its options and its input identity (src/plan/hash.ts). So when the
 * previous plan's hash of a task equals the hash of the task's input as planned now with a set
 * of options seen in the previous plan (and the previous plan's csttool version), that task had
 * those options and the same input identity: its reason is the options' change alone, the same
 * text describeTaskChange would give, made once per (previous options, new options) pair. The
 * sets tried are the last few that explained a task (most recent first); a task none explains
 * (its input changed too, or it was planned with another version) is read back, and its options
 * are learnt when its own hash proves them.
 */
export class ChangeReasons {
  private readonly hashBefore: ((options: CsttoolOptions, input: TaskInput) => string) | null;
  private readonly interned = new Map<string, CsttoolOptions>();
  private candidates: CsttoolOptions[] = [];
  private readonly reasons = new Map<CsttoolOptions, Map<CsttoolOptions, string>>();
  /** Previous tasks read back for a reason (a count, for the bench and tests). */
  readBack = 0;

  constructor(private readonly versions: Versions) {
    this.hashBefore = versions.before === null ? null : configHasher(versions.before);
  }

  /**
   * The reason `task` differs from the previous plan's task of the same key, whose config hash
   * was `prevHash`; `readBack` reads that task (undefined when it cannot). Undefined when it
   * cannot be read back and no options set explains it.
   */
  reasonFor(task: PlanTask, prevHash: string, readBack: () => PlanTask | undefined): string | undefined {
    const known = this.optionsBefore(task, prevHash);
    if (known !== undefined) return this.optionsReason(known, task.options);
    const prev = readBack();
    if (prev === undefined) return undefined;
    this.readBack++;
    this.consider(prev, prevHash);
    return describeTaskChange(prev, task, this.versions);
  }

  /**
   * The options the previous plan's task had and the reason it differs, when a set tried explains
   * its hash (so it needs no reading back: a kept done result is the new task with those options).
   */
  explained(task: PlanTask, prevHash: string): { options: CsttoolOptions; reason: string } | undefined {
    const known = this.optionsBefore(task, prevHash);
    return known === undefined ? undefined : { options: known, reason: this.optionsReason(known, task.options) };
  }

  /**
   * The options the previous plan's task had, when one of the sets tried explains its hash
   * `prevHash` with the task's input as it is now (so its input identity is unchanged); else
   * undefined (read it back to know).
   */
  optionsBefore(task: PlanTask, prevHash: string): CsttoolOptions | undefined {
    const hash = this.hashBefore;
    if (hash === null) return undefined;
    for (let i = 0; i < this.candidates.length; i++) {
      const c = this.candidates[i]!;
      if (hash(c, task.input) !== prevHash) continue;
      if (i > 0) this.candidates = [c, ...this.candidates.filter((x) => x !== c)];
      return c;
    }
    return undefined;
  }

  /** A previous task read back (its config hash `prevHash`): its options are tried for the next tasks when its hash proves them. */
  consider(prev: PlanTask, prevHash: string): void {
    if (this.hashBefore !== null && this.hashBefore(prev.options, prev.input) === prevHash) this.learn(prev.options);
  }

  /** The reason for options `before` → `after` with the same input, made once per pair. */
  private optionsReason(before: CsttoolOptions, after: CsttoolOptions): string {
    let byAfter = this.reasons.get(before);
    if (byAfter === undefined) {
      byAfter = new Map();
      this.reasons.set(before, byAfter);
    }
    let reason = byAfter.get(after);
    if (reason === undefined) {
      // Bounded: the new plan's tasks share a few interned options objects; should a study give
      // each task its own, the cache starts again rather than grow.
      if (byAfter.size >= 256) byAfter.clear();
      reason = joinReasons(this.versions, optionChanges(before, after));
      byAfter.set(after, reason);
    }
    return reason;
  }

  private learn(options: CsttoolOptions): void {
    const text = canonicalJson(options);
    let c = this.interned.get(text);
    if (c === undefined) {
      if (this.interned.size >= 256) return;
      c = options;
      this.interned.set(text, c);
    }
    const known = c;
    this.candidates = [known, ...this.candidates.filter((x) => x !== known)].slice(0, CANDIDATES);
  }
}
