import fs from "node:fs";
import path from "node:path";
import { CstError } from "../errors.js";

/**
 * The one safe way to create, append to, rename or remove anything under `--out`: no component
 * below the output folder may be a symbolic link (the output folder itself may be one: a user's
 * `results -> /scratch/...`). A planted link at `<out>/logs`, `<sub>/_failed_attempts` or
 * `.cst-batch/events.jsonl` would otherwise carry writes out of `--out`.
 *
 * Folders proven real (lstat: a directory, not a link) are remembered for the process, so a
 * run-one checks each folder of its subject once; a file's last component is opened with
 * O_NOFOLLOW (appends) or replaced by rename (atomic writes), never followed.
 */

const realDirs = new Set<string>();

/** A link found where cst-batch writes: the error names it and says how to fix it. */
export function plantedLinkError(link: string, root: string): CstError {
  return new CstError("SYSTEM", `refusing to write through the symbolic link ${link} inside the output folder ${root}`, {
    hint: `cst-batch writes only inside --out and never follows a link there: remove the link (rm ${JSON.stringify(link)}) and run again`,
  });
}

function outsideError(target: string, root: string): CstError {
  return new CstError("SYSTEM", `refusing to write ${target}: it is not inside the output folder ${root}`);
}

/** Components of `target` below `root` ([] for root itself); throws when target is outside. */
function componentsBelow(root: string, target: string): string[] {
  const rel = path.relative(root, target);
  if (rel === "") return [];
  if (rel.startsWith("..") || path.isAbsolute(rel)) throw outsideError(target, root);
  return rel.split(path.sep);
}

/** lstat that tells missing apart (null) from present. */
function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw e;
  }
}

/**
 * Every existing folder from `root` (exclusive) down to `dir` (inclusive) is a real folder;
 * stops at the first one that does not exist yet. Throws naming a link found on the way.
 * Returns whether `dir` itself is there, a real folder.
 */
export function assertRealDirs(root: string, dir: string): boolean {
  let cur = root;
  for (const part of componentsBelow(root, dir)) {
    cur = `${cur}${path.sep}${part}`;
    if (realDirs.has(cur)) continue;
    const st = lstatOrNull(cur);
    if (st === null) return false;
    if (st.isSymbolicLink()) throw plantedLinkError(cur, root);
    if (!st.isDirectory()) return false; // a file where a folder is expected: the write itself fails with ENOTDIR/EEXIST
    realDirs.add(cur);
  }
  return true;
}

/** The folder of `file` is safe to write in (its last component is the caller's to guard). */
export function assertWritableFile(root: string, file: string): void {
  assertRealDirs(root, path.dirname(file));
}

/** `mkdir -p dir` below `root`, refusing a link at any component (made or found). */
export function mkdirConfined(root: string, dir: string): void {
  const parts = componentsBelow(root, dir);
  if (parts.length === 0 || realDirs.has(root)) {
    ensureRoot(root);
    mkdirBelow(root, parts, dir);
    return;
  }
  // The output folder is not looked at first: a mkdir below it answers whether it is there (one
  // call less per process); only when that says it is missing (ENOENT) is it made, then again.
  try {
    mkdirBelow(root, parts, dir);
    realDirs.add(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    ensureRoot(root);
    mkdirBelow(root, parts, dir);
  }
}

function ensureRoot(root: string): void {
  if (realDirs.has(root)) return;
  // The output folder itself may be (or sit behind) a link: stat, not lstat. One call when it exists.
  let isDir = false;
  try {
    isDir = fs.statSync(root).isDirectory();
  } catch {
    // made below
  }
  if (!isDir) fs.mkdirSync(root, { recursive: true });
  realDirs.add(root);
}

function mkdirBelow(root: string, parts: readonly string[], dir: string): void {
  let cur = root;
  for (const part of parts) {
    cur = `${cur}${path.sep}${part}`;
    if (realDirs.has(cur)) continue;
    // mkdir first: a folder it makes is a real one (one call); only one already there is looked at.
    try {
      fs.mkdirSync(cur);
      realDirs.add(cur);
      continue;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const st = fs.lstatSync(cur);
    if (st.isSymbolicLink()) throw plantedLinkError(cur, root);
    if (!st.isDirectory()) {
      throw new CstError("SYSTEM", `cannot create the folder ${dir}: ${cur} is a file, not a folder`, {
        hint: `cst-batch did not make ${cur}: move it out of the output folder, then run again`,
      });
    }
    realDirs.add(cur);
  }
}

const APPEND_FLAGS = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;

/** An O_APPEND descriptor on `file` below `root` (folders made as needed), never through a link. */
export function openAppendConfined(root: string, file: string): number {
  const dir = path.dirname(file);
  assertRealDirs(root, dir);
  try {
    return fs.openSync(file, APPEND_FLAGS, 0o666);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw plantedLinkError(file, root);
    if (code !== "ENOENT") throw e;
  }
  mkdirConfined(root, dir);
  try {
    return fs.openSync(file, APPEND_FLAGS, 0o666);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ELOOP") throw plantedLinkError(file, root);
    throw e;
  }
}

/** Throws naming `p` when it (below `root`) or a folder on its way is a symbolic link. */
export function assertNotLink(root: string, p: string): void {
  if (realDirs.has(p)) return;
  assertRealDirs(root, path.dirname(p));
  const st = lstatOrNull(p);
  if (st?.isSymbolicLink()) throw plantedLinkError(p, root);
  // A real folder: remembered like the ones on the way (a write into it need not look again).
  if (st?.isDirectory()) realDirs.add(p);
}

/** assertNotLink for each of `paths` (the layout's `studyPaths`, a task's paths). */
export function assertNoLinks(root: string, paths: readonly string[]): void {
  for (const p of paths) assertNotLink(root, p);
}

/** Forget what was proven (tests that replace folders with links inside one process). */
export function forgetRealDirs(): void {
  realDirs.clear();
}
