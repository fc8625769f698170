import fs from "node:fs";
import path from "node:path";
import * as z from "../schemas/zod.js";
import { ATTEMPT_FILE, CSTTOOL_STUDY_LEVEL_FILES, DONE_FILE, FAILED_DIR, LOCK_FILE, PROMOTED_FILE, WORK_DIR } from "../layout.js";
import { DoneRecordSchema, SCHEMA_VERSION, type DoneRecord } from "../schemas/records.js";
import { fsyncDirSync, writeJsonAtomicSync } from "../util/atomic-write.js";
import { readStateFileSync } from "../util/read-json.js";
import { assertRealDirs } from "../util/confined-fs.js";
import { findConflicts, isSafeRelative, ownedFiles, writePromotedList, type StagedEntry } from "./ownership.js";
import { pauseForTest } from "../util/test-pause.js";
import { removeWorkDir, TRASH_PREFIX } from "./work-removal.js";

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
export { TRASH_PREFIX, removeTrash, removeWorkDir, type KnownWork } from "./work-removal.js";

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

/** Move every entry of `srcDir` into `destDir` except those in `leave` (a clash gets a suffix); how many were moved. */
function moveEntriesInto(srcDir: string, destDir: string, taken: Set<string>, leave: ReadonlySet<string> = new Set()): number {
  let names: string[];
  try {
    names = fs.readdirSync(srcDir).sort();
  } catch {
    return 0;
  }
  for (const name of names) {
    if (leave.has(name)) continue;
    const target = freeName(destDir, name, taken);
    taken.add(target);
    fs.renameSync(path.join(srcDir, name), path.join(destDir, target));
  }
  return names.length;
}

function rmdirQuietly(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty or gone: left for the work folder's removal
  }
}

/**
 * Remove `dir` if it is an empty folder; true when nothing is left there (removed, or never
 * there). One rmdir instead of a listing (five calls on a network filesystem) where csttool left
 * a folder empty, as it usually does.
 */
function removedIfEmpty(dir: string): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/**
 * Flatten csttool's output into `staged`: the contents of `sub-X/[ses-Y/]` first, then the rest
 * of `sub-X/`, then csttool's top-level files except its study-level ones
 * (`CSTTOOL_STUDY_LEVEL_FILES`: dataset_description.json, participants.*), which stay in `_work`
 * and go with it. Nothing subject-level is dropped; a clash gets a `_2` suffix.
 * Returns the entries of `staged` when they are known without listing it again (its folder was
 * renamed whole and nothing else was moved in), else null; `sub-X/` and csttool's folder are
 * removed when empty (an rmdir costs less than a listing).
 */
export async function stageOutput(csttoolOut: string, staged: string, subject: string, session: string | null): Promise<StagedEntry[] | null> {
  const taken = new Set<string>();
  const subjectDir = path.join(csttoolOut, subject);
  const innermost = session ? path.join(subjectDir, session) : subjectDir;
  const whole = renameWhole(innermost, staged, taken);
  let moved = 0;
  if (whole === null) {
    fs.mkdirSync(staged, { recursive: true });
    if (session) {
      moved += moveEntriesInto(innermost, staged, taken);
      rmdirQuietly(innermost);
    }
  }
  if (!removedIfEmpty(subjectDir)) {
    moved += moveEntriesInto(subjectDir, staged, taken);
    rmdirQuietly(subjectDir);
  }
  if (!removedIfEmpty(csttoolOut)) moved += moveEntriesInto(csttoolOut, staged, taken, CSTTOOL_STUDY_LEVEL_FILES);
  return whole !== null && moved === 0 ? whole : null;
}

/**
 * `src` renamed to `dest` as a whole: one rename instead of a mkdir, a rename per entry and a
 * rmdir (a mkdir alone costs ~0.25 ms on ext4). Only for a real folder (not a link) holding no
 * name cst-batch manages (those get a suffix, entry by entry). Returns its entries; null when not done.
 */
function renameWhole(src: string, dest: string, taken: Set<string>): StagedEntry[] | null {
  let entries: StagedEntry[];
  try {
    if (!fs.lstatSync(src).isDirectory()) return null;
    entries = fs.readdirSync(src, { withFileTypes: true }).map((e) => ({ name: e.name, isDir: e.isDirectory() }));
  } catch {
    return null;
  }
  if (entries.some((e) => isManagedName(e.name))) return null;
  try {
    fs.renameSync(src, dest);
  } catch {
    return null;
  }
  for (const e of entries) taken.add(e.name);
  return entries;
}

/**
 * Every file under `root` (relative paths, sorted) with its size; symlinks listed, not followed.
 * `tree`, when given, is filled with each folder's entries (for findConflicts and the journal,
 * so `staged` is listed once); `top`, when given, stands for the listing of `root` itself.
 */
export async function listFiles(root: string, tree?: Map<string, readonly StagedEntry[]>, top?: readonly StagedEntry[] | null): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  const walk = (rel: string): void => {
    const entries: StagedEntry[] =
      rel === "" && top ? [...top] : fs.readdirSync(path.join(root, rel), { withFileTypes: true }).map((e) => ({ name: e.name, isDir: e.isDirectory() }));
    tree?.set(rel.split(path.sep).join("/"), entries);
    for (const e of entries) {
      const r = rel ? path.join(rel, e.name) : e.name;
      if (e.isDir) walk(r);
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
 * `noDone` (with `checked`): the caller found no `_done.json` just now.
 */
export async function applyPromotion(root: string, taskDir: string, journal: PromoteJournal, opts: { checked?: boolean; noDone?: boolean } = {}): Promise<void> {
  const work = path.join(taskDir, WORK_DIR);
  const staged = path.join(work, STAGED_DIR);
  const previous = path.join(work, PREVIOUS_DIR);
  // A fresh promotion made `staged` itself just now (a rename of a real folder, or a mkdir).
  if (!opts.checked) assertRealDirs(root, staged);
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
  // `noDone`: the caller, holding the subject's lock, has just found no `_done.json` (or only a link, never trusted).
  if (!(opts.checked && opts.noDone) && exists(done)) moveAside(DONE_FILE);
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
    const src = lstatOrNull(path.join(staged, name));
    if (src !== null) mergeIn(staged, taskDir, name, moveAside, src.isDirectory());
    if (i === 0) pauseForTest("promote-mid");
  }
  // 4. The list of what cst-batch made here (kept when a user moves `_done.json` away), then `_done.json` last.
  writePromotedList(taskDir, [...fresh]);
  fsyncDirSync(taskDir);
  pauseForTest("before-done");
  writeJsonAtomicSync(done, journal.done);
  pauseForTest("after-done");
  // 5. Clear the work folder: rename first so a crash mid-removal leaves a recognisable name.
  //    What a promotion leaves there is known: removed by name, without listing the folders.
  await removeWorkDir(taskDir, { files: [ATTEMPT_FILE, JOURNAL_FILE], emptyDirs: [STAGED_DIR], trees: previousMade ? [PREVIOUS_DIR] : [] });
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
function mergeIn(staged: string, taskDir: string, rel: string, moveAside: (rel: string) => void, srcIsDir: boolean): void {
  const src = path.join(staged, rel);
  const dest = path.join(taskDir, rel);
  const target = lstatOrNull(dest);
  if (target !== null && target.isDirectory() && !target.isSymbolicLink() && srcIsDir) {
    const entries = fs.readdirSync(src, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) mergeIn(staged, taskDir, `${rel}/${e.name}`, moveAside, e.isDirectory());
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

export type { DoneRecord };
