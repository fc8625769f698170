import fs from "node:fs";
import path from "node:path";
import { DONE_FILE, PROMOTED_FILE } from "../layout.js";
import { DoneRecordSchema, PromotedListSchema, SCHEMA_VERSION, type PromotedList } from "../schemas/records.js";
import { writeJsonAtomicSync } from "../util/atomic-write.js";
import { parseStateText } from "../util/read-json.js";

/**
 * What cst-batch may replace in a subject folder: only the files its previous result for that
 * subject lists in `_done.json` (the promotion rule in the README). Everything else there (a
 * user's notes, a QC file, another tool's output) is foreign: it stays, and a result that would
 * overwrite it stops the promotion before anything is touched.
 */

/**
 * Files (relative, `/`-separated) of the subject's last result: those its `_done.json` lists,
 * and those of `_promoted.json` (written beside it, so a `_done.json` moved away by hand to
 * force a rerun does not turn cst-batch's own results into foreign files).
 */
export function ownedFiles(taskDir: string, seen?: { done: boolean }): string[] {
  const owned = new Set<string>();
  const doneFile = path.join(taskDir, DONE_FILE);
  const listFile = path.join(taskDir, PROMOTED_FILE);
  // A record that is a symbolic link was not written by cst-batch (it renames real files into place): never
  // trusted. Opened with O_NOFOLLOW: one call, where an lstat and then an open were two.
  const doneText = readNoFollow(doneFile, seen ? (absent) => (seen.done = !absent) : undefined);
  if (doneText !== null) {
    const done = parseStateText(doneFile, doneText, DoneRecordSchema);
    if (done.kind === "ok") for (const f of done.value.files) owned.add(f.path);
    else if (done.kind === "corrupt") for (const p of pathsInDamagedRecord(doneText)) owned.add(p);
  }
  const listText = readNoFollow(listFile);
  if (listText !== null) {
    const listed = parseStateText(listFile, listText, PromotedListSchema);
    if (listed.kind === "ok") for (const p of listed.value.files) owned.add(p);
  }
  return [...owned].filter(isSafeRelative);
}

/**
 * A file's text, never through a symbolic link; null when missing, a link, or unreadable.
 * `absent` hears whether nothing at all is at that name (ENOENT).
 */
function readNoFollow(file: string, absent?: (nothing: boolean) => void): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    absent?.((e as NodeJS.ErrnoException).code === "ENOENT");
    return null;
  }
  absent?.(false);
  try {
    return fs.readFileSync(fd, "utf8");
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Write `_promoted.json`: the files of the result just promoted. */
export function writePromotedList(taskDir: string, files: readonly string[]): void {
  const record: PromotedList = { schema_version: SCHEMA_VERSION, kind: "cst-batch-promoted", files: [...files].sort() };
  writeJsonAtomicSync(path.join(taskDir, PROMOTED_FILE), record, { durable: false });
}

/**
 * The `"path"` entries still legible in a damaged `_done.json` (a truncated write keeps most of
 * them): better to know some of our files than to call all of them foreign.
 */
function pathsInDamagedRecord(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/"path"\s*:\s*("(?:[^"\\]|\\.)*")/g)) {
    try {
      const p = JSON.parse(m[1] as string) as string;
      if (isSafeRelative(p)) found.push(p);
    } catch {
      // an entry cut mid-string
    }
  }
  return found;
}

/** A relative path that stays inside its folder (no `..`, not absolute). */
export function isSafeRelative(p: string): boolean {
  return p !== "" && !path.isAbsolute(p) && !p.split("/").some((c) => c === ".." || c === "." || c === "");
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/** Every file (or link) below `dir`, relative to `base`, `/`-separated; links are never followed. */
function filesBelow(dir: string, rel: string, out: string[]): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) filesBelow(path.join(dir, e.name), r, out);
    else out.push(r);
  }
}

/** An entry of a folder listing: its name, and whether it is a folder (not a link to one). */
export interface StagedEntry {
  name: string;
  isDir: boolean;
}
/** Listings of the staged tree by relative folder (`""` = the staged folder, `a/b` below it), as one walk found them. */
export type StagedTree = ReadonlyMap<string, readonly StagedEntry[]>;

function listing(dir: string): StagedEntry[] | null {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).map((e) => ({ name: e.name, isDir: e.isDirectory() }));
  } catch {
    return null;
  }
}

/**
 * The paths in `taskDir` that moving `staged` in would replace although cst-batch did not make
 * them (not in `owned`). A folder of the subject that holds foreign files is merged into, file by
 * file, so a result never replaces a folder wholesale; a symbolic link where a result goes is
 * always a conflict (it is never followed). `tree`: the staged folders' listings, when the caller
 * has just walked them (a fresh promotion); otherwise they are listed here.
 */
export function findConflicts(taskDir: string, staged: string, owned: ReadonlySet<string>, tree?: StagedTree): string[] {
  const conflicts: string[] = [];
  const walk = (rel: string): void => {
    const entries = tree?.get(rel) ?? listing(rel ? path.join(staged, rel) : staged);
    if (entries === null) return;
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const target = lstatOrNull(path.join(taskDir, r));
      if (target === null) continue;
      if (target.isSymbolicLink()) {
        if (!owned.has(r)) conflicts.push(r);
      } else if (target.isDirectory()) {
        if (e.isDir) walk(r);
        else {
          const inside: string[] = [];
          filesBelow(path.join(taskDir, r), r, inside);
          conflicts.push(...inside.filter((f) => !owned.has(f)));
        }
      } else if (!owned.has(r)) {
        conflicts.push(r);
      }
    }
  };
  walk("");
  return conflicts.sort();
}
