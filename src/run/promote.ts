import fs from "node:fs";
import path from "node:path";
import { randomHex } from "../util/random-hex.js";
import * as z from "../schemas/zod.js";
import { CSTTOOL_STUDY_LEVEL_FILES, DONE_FILE, FAILED_DIR, LOCK_FILE, PROMOTED_FILE, WORK_DIR } from "../layout.js";
import { DoneRecordSchema, SCHEMA_VERSION, type DoneRecord } from "../schemas/records.js";
import { fsyncDirSync, writeJsonAtomicSync } from "../util/atomic-write.js";
import { readStateFileSync } from "../util/read-json.js";
import { assertRealDirs } from "../util/confined-fs.js";
import { findConflicts, isSafeRelative, ownedFiles, writePromotedList } from "./ownership.js";
import { pauseForTest } from "../util/test-pause.js";

/**
 * Promotion: csttool's tree (in `_work/csttool`) becomes the subject folder's results.
 *
 *   1. stage    move csttool's files into `_work/staged/`, flattening its `sub-X/[ses-Y/]` level
 *   2. journal  `_work/promote.json`: the done record to write and the entries to move
 *   3. apply    previous `_done.json` away first, previous results into `_work/previous/`,
 *               staged entries renamed in, `_done.json` written last, `_work` removed
 *
 * Step 3 is idempotent and is rolled forward by the next run if it was interrupted, so a
 * subject folder either has the old `_done.json` with the old results, or (eventually) the new
 * one with the new results; never a `_done.json` that lists files that are not there.
 *
 * Every call is a blocking one (see writeFileAtomicSync): the steps are sequential, and each is
 * a metadata operation cheaper than a thread-pool round trip.
 */

export const JOURNAL_FILE = "promote.json";
export const STAGED_DIR = "staged";
export const PREVIOUS_DIR = "previous";
/** `_work` is renamed to this prefix + random before removal, so a crash mid-removal is recognisable. */
export const TRASH_PREFIX = "_work.done-";

export const PromoteJournalSchema = z.object({
  schema_version: z.literal(SCHEMA_VERSION),
  kind: z.literal("cst-batch-promote"),
  done: DoneRecordSchema,
  /** Top-level names in `_work/staged/`, each moved to the subject folder under the same name. */
  entries: z.array(z.string()),
  /**
   * The files (relative) cst-batch may replace: the previous result's, plus any the user let it
   * adopt. Absent in journals of older versions: read from `_done.json` then.
   */
  replaces: z.optional(z.array(z.string())),
});
export type PromoteJournal = z.infer<typeof PromoteJournalSchema>;

/** Names in a subject folder that cst-batch manages (never treated as a previous result). */
export function isManagedName(name: string): boolean {
  return (
    name === LOCK_FILE ||
    name.startsWith(`${LOCK_FILE}.`) ||
    name === WORK_DIR ||
    name.startsWith(TRASH_PREFIX) ||
    name === FAILED_DIR ||
    name === DONE_FILE ||
    name.startsWith(`${DONE_FILE}.`) ||
    name.startsWith(`.${DONE_FILE}.`) ||
    name === PROMOTED_FILE ||
    name.startsWith(`.${PROMOTED_FILE}.`)
  );
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** `name` if free in `dir`, else `stem_2.ext`, `stem_3.ext`, ... (extension = from the first dot). */
function freeName(dir: string, name: string, taken: Set<string>): string {
  const dot = name.indexOf(".", 1);
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? name.slice(dot) : "";
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${stem}_${n}${ext}`;
    if (taken.has(candidate) || isManagedName(candidate)) continue;
    if (!exists(path.join(dir, candidate))) return candidate;
  }
}

function moveEntriesInto(srcDir: string, destDir: string, taken: Set<string>, leave: ReadonlySet<string> = new Set()): void {
  let names: string[];
  try {
    names = fs.readdirSync(srcDir).sort();
  } catch {
    return;
  }
  for (const name of names) {
    if (leave.has(name)) continue;
    const target = freeName(destDir, name, taken);
    taken.add(target);
    fs.renameSync(path.join(srcDir, name), path.join(destDir, target));
  }
}

function rmdirQuietly(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty or gone: left for the work folder's removal
  }
}

/**
 * Flatten csttool's output into `staged`: the contents of `sub-X/[ses-Y/]` first, then the rest
 * of `sub-X/`, then csttool's top-level files except its study-level ones
 * (`CSTTOOL_STUDY_LEVEL_FILES`: dataset_description.json, participants.*), which stay in `_work`
 * and go with it. Nothing subject-level is dropped; a clash gets a `_2` suffix.
 */
export async function stageOutput(csttoolOut: string, staged: string, subject: string, session: string | null): Promise<void> {
  const taken = new Set<string>();
  const subjectDir = path.join(csttoolOut, subject);
  const innermost = session ? path.join(subjectDir, session) : subjectDir;
  if (!renameWhole(innermost, staged, taken)) {
    fs.mkdirSync(staged, { recursive: true });
    if (session) {
      moveEntriesInto(innermost, staged, taken);
      rmdirQuietly(innermost);
    }
  }
  moveEntriesInto(subjectDir, staged, taken);
  rmdirQuietly(subjectDir);
  moveEntriesInto(csttoolOut, staged, taken, CSTTOOL_STUDY_LEVEL_FILES);
}

/**
 * `src` renamed to `dest` as a whole: one rename instead of a mkdir, a rename per entry and a
 * rmdir (a mkdir alone costs ~0.25 ms on ext4). Only for a real folder (not a link) holding no
 * name cst-batch manages (those get a suffix, entry by entry); false when not done.
 */
function renameWhole(src: string, dest: string, taken: Set<string>): boolean {
  let names: string[];
  try {
    if (!fs.lstatSync(src).isDirectory()) return false;
    names = fs.readdirSync(src);
  } catch {
    return false;
  }
  if (names.some(isManagedName)) return false;
  try {
    fs.renameSync(src, dest);
  } catch {
    return false;
  }
  for (const name of names) taken.add(name);
  return true;
}

/** Every file under `root` (relative paths, sorted) with its size; symlinks listed, not followed. */
export async function listFiles(root: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  const walk = (rel: string): void => {
    const entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? path.join(rel, e.name) : e.name;
      if (e.isDirectory()) walk(r);
      else out.push({ path: r.split(path.sep).join("/"), size: fs.lstatSync(path.join(root, r)).size });
    }
  };
  walk("");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The metrics JSON among promoted files: the new layout `reports/*_metrics.json` (preferring
 * `<prefix>_metrics.json`), else the old `metrics/*_bilateral_metrics.json` anywhere.
 */
export function findMetricsFile(files: readonly { path: string }[], prefix: string): string | null {
  const fresh = files.map((f) => f.path).filter((p) => /^reports\/[^/]*_metrics\.json$/.test(p));
  const exact = fresh.find((p) => p === `reports/${prefix}_metrics.json`);
  if (exact) return exact;
  if (fresh[0]) return fresh[0];
  const old = files.map((f) => f.path).find((p) => /(^|\/)metrics\/[^/]*_bilateral_metrics\.json$/.test(p));
  return old ?? null;
}

export async function writeJournal(workDir: string, journal: PromoteJournal): Promise<void> {
  writeJsonAtomicSync(path.join(workDir, JOURNAL_FILE), journal);
}

export type JournalRead = { kind: "none" } | { kind: "ok"; journal: PromoteJournal } | { kind: "corrupt"; reason: string };

export async function readJournal(workDir: string): Promise<JournalRead> {
  const r = readStateFileSync(path.join(workDir, JOURNAL_FILE), PromoteJournalSchema);
  if (r.kind === "ok") return { kind: "ok", journal: r.value };
  if (r.kind === "missing") return { kind: "none" };
  return { kind: "corrupt", reason: r.kind === "corrupt" ? r.reason : `schema_version ${r.found} is newer` };
}

/**
 * Carry out (or finish) a journalled promotion. Safe to repeat after a crash at any point.
 * Replaces only what cst-batch made (the journal's `replaces`: the previous result's files);
 * a foreign file in the way stops it before anything is moved (`PromotionConflictError`).
 * `checked`: the caller compared the staged tree with the folder just now (a fresh promotion);
 * a roll-forward after a crash checks again, since the folder may have changed meanwhile.
 */
export async function applyPromotion(root: string, taskDir: string, journal: PromoteJournal, opts: { checked?: boolean } = {}): Promise<void> {
  const work = path.join(taskDir, WORK_DIR);
  const staged = path.join(work, STAGED_DIR);
  const previous = path.join(work, PREVIOUS_DIR);
  assertRealDirs(root, staged);
  const owned = new Set(journal.replaces ?? ownedFiles(taskDir));
  const conflicts = opts.checked ? [] : findConflicts(taskDir, staged, owned);
  if (conflicts.length > 0) throw new PromotionConflictError(taskDir, conflicts);

  const previousTaken = new Set<string>();
  let previousMade = false;
  /** Move `rel` of the subject folder into `_work/previous/` (made on first use; deleted with `_work`). */
  const moveAside = (rel: string): void => {
    if (!previousMade) fs.mkdirSync(previous, { recursive: true });
    previousMade = true;
    const target = freeName(previous, path.basename(rel), previousTaken);
    previousTaken.add(target);
    fs.renameSync(path.join(taskDir, rel), path.join(previous, target));
  };

  // 1. The previous `_done.json` goes first: from here on the folder never claims "done" for a mix.
  const done = path.join(taskDir, DONE_FILE);
  if (exists(done)) moveAside(DONE_FILE);
  pauseForTest("promote-previous-out");
  // 2. Previous results that the new one does not replace go (only files cst-batch made).
  const fresh = new Set(journal.done.files.map((f) => f.path));
  for (const rel of owned) {
    if (fresh.has(rel) || !isSafeRelative(rel) || isManagedName(rel.split("/")[0] as string)) continue;
    const st = lstatOrNull(path.join(taskDir, rel));
    if (st === null || st.isDirectory()) continue;
    moveAside(rel);
    removeEmptyParents(taskDir, rel);
  }
  // 3. Staged entries in: a whole rename where nothing is in the way, else merged file by file.
  for (const [i, name] of journal.entries.entries()) {
    if (exists(path.join(staged, name))) mergeIn(staged, taskDir, name, moveAside);
    if (i === 0) pauseForTest("promote-mid");
  }
  // 4. The list of what cst-batch made here (kept when a user moves `_done.json` away), then `_done.json` last.
  writePromotedList(taskDir, [...fresh]);
  fsyncDirSync(taskDir);
  pauseForTest("before-done");
  writeJsonAtomicSync(done, journal.done);
  pauseForTest("after-done");
  // 5. Clear the work folder: rename first so a crash mid-removal leaves a recognisable name.
  await removeWorkDir(taskDir);
}

/** A result would replace files cst-batch did not make: nothing was promoted. */
export class PromotionConflictError extends Error {
  constructor(
    readonly taskDir: string,
    readonly conflicts: string[],
  ) {
    const shown = conflicts.slice(0, 5).map((c) => path.join(taskDir, c));
    super(
      `csttool's results would replace ${conflicts.length} file(s) in ${taskDir} that cst-batch did not create: ${shown.join(", ")}${conflicts.length > shown.length ? ` and ${conflicts.length - shown.length} more` : ""}; nothing was promoted`,
    );
    this.name = "PromotionConflictError";
  }
}

/** Move `staged/rel` to `taskDir/rel`; the checks of findConflicts ran first. */
function mergeIn(staged: string, taskDir: string, rel: string, moveAside: (rel: string) => void): void {
  const src = path.join(staged, rel);
  const dest = path.join(taskDir, rel);
  const target = lstatOrNull(dest);
  const srcIsDir = fs.lstatSync(src).isDirectory();
  if (target !== null && target.isDirectory() && !target.isSymbolicLink() && srcIsDir) {
    for (const name of fs.readdirSync(src).sort()) mergeIn(staged, taskDir, `${rel}/${name}`, moveAside);
    rmdirQuietly(src);
    return;
  }
  // A previous result of another kind (a folder where a file goes, or the reverse) moves aside whole.
  if (target !== null && (target.isDirectory() || srcIsDir)) moveAside(rel);
  fs.renameSync(src, dest);
}

/** Remove the folders of `rel` that its moving away left empty (never the subject folder). */
function removeEmptyParents(taskDir: string, rel: string): void {
  for (let dir = path.posix.dirname(rel); dir !== "." && dir !== ""; dir = path.posix.dirname(dir)) {
    try {
      fs.rmdirSync(path.join(taskDir, dir));
    } catch {
      return;
    }
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/**
 * Rename `_work` aside and delete it. Earlier leftovers of the same kind (a crash mid-removal)
 * are removed by the next run's `removeTrash`.
 */
export async function removeWorkDir(taskDir: string): Promise<void> {
  const trash = path.join(taskDir, `${TRASH_PREFIX}${randomHex(4)}`);
  try {
    fs.renameSync(path.join(taskDir, WORK_DIR), trash);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  removeTree(trash);
}

/**
 * Delete `_work.done-*` folders left by an interrupted removal; returns the folder's other
 * names (empty when it cannot be listed).
 */
export async function removeTrash(taskDir: string): Promise<Set<string>> {
  let names: string[];
  try {
    names = fs.readdirSync(taskDir);
  } catch {
    return new Set();
  }
  const kept = new Set<string>();
  for (const name of names) {
    if (name.startsWith(TRASH_PREFIX)) removeTree(path.join(taskDir, name));
    else kept.add(name);
  }
  return kept;
}

/**
 * `rm -rf target`: the walk uses the entry types readdir gives (no lstat per entry, unlike
 * fs.rmSync; `isDir` is known for entries, lstat'ed for the top) and never follows a symbolic
 * link; anything unexpected falls back to fs.rmSync.
 */
function removeTree(target: string, isDir?: boolean): void {
  try {
    if (isDir ?? fs.lstatSync(target).isDirectory()) {
      for (const e of fs.readdirSync(target, { withFileTypes: true })) removeTree(path.join(target, e.name), e.isDirectory());
      fs.rmdirSync(target);
    } else {
      fs.unlinkSync(target);
    }
  } catch {
    fs.rmSync(target, { recursive: true, force: true });
  }
}

export type { DoneRecord };
