import fs from "node:fs";
import path from "node:path";
import { DONE_FILE, PROMOTED_FILE } from "../layout.js";
import { DoneRecordSchema, PromotedListSchema, SCHEMA_VERSION, type PromotedList } from "../schemas/records.js";
import { writeJsonAtomicSync } from "../util/atomic-write.js";
import { readStateFileSync } from "../util/read-json.js";

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
export function ownedFiles(taskDir: string): string[] {
  const owned = new Set<string>();
  const doneFile = path.join(taskDir, DONE_FILE);
  const listFile = path.join(taskDir, PROMOTED_FILE);
  // A record that is a symbolic link was not written by cst-batch (it renames real files into place): never trusted.
  if (!isLink(doneFile)) {
    const done = readStateFileSync(doneFile, DoneRecordSchema);
    if (done.kind === "ok") for (const f of done.value.files) owned.add(f.path);
    else if (done.kind === "corrupt") for (const p of pathsInDamagedRecord(doneFile)) owned.add(p);
  }
  if (!isLink(listFile)) {
    const listed = readStateFileSync(listFile, PromotedListSchema);
    if (listed.kind === "ok") for (const p of listed.value.files) owned.add(p);
  }
  return [...owned].filter(isSafeRelative);
}

function isLink(p: string): boolean {
  return lstatOrNull(p)?.isSymbolicLink() === true;
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
function pathsInDamagedRecord(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
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

/**
 * The paths in `taskDir` that moving `staged` in would replace although cst-batch did not make
 * them (not in `owned`). A folder of the subject that holds foreign files is merged into, file by
 * file, so a result never replaces a folder wholesale; a symbolic link where a result goes is
 * always a conflict (it is never followed).
 */
export function findConflicts(taskDir: string, staged: string, owned: ReadonlySet<string>): string[] {
  const conflicts: string[] = [];
  const walk = (rel: string): void => {
    const stagedDir = rel ? path.join(staged, rel) : staged;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(stagedDir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const target = lstatOrNull(path.join(taskDir, r));
      if (target === null) continue;
      if (target.isSymbolicLink()) {
        if (!owned.has(r)) conflicts.push(r);
      } else if (target.isDirectory()) {
        if (e.isDirectory()) walk(r);
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
