import fs from "node:fs";
import path from "node:path";
import { WORK_DIR } from "../layout.js";
import { randomHex } from "../util/random-hex.js";

/** Removing a subject's `_work/` after a promotion, and the leftovers of a removal a crash cut short. */

/** `_work` is renamed to this prefix + random before removal, so a crash mid-removal is recognisable. */
export const TRASH_PREFIX = "_work.done-";

function rmdirQuietly(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty or gone: the walk removes what is left
  }
}

/** What the caller knows `_work` holds: files, folders it expects empty, and folders to remove whole. */
export interface KnownWork {
  files?: readonly string[];
  emptyDirs?: readonly string[];
  trees?: readonly string[];
}

/**
 * Rename `_work` aside and delete it. Earlier leftovers of the same kind (a crash mid-removal)
 * are removed by the next run's `removeTrash`. The names in `known` are removed first, each
 * with one call (an unlink or an rmdir: no listing); when the folder is then not empty (a name
 * not known, a folder not empty), the rest is removed by walking it, as without `known`.
 */
export async function removeWorkDir(taskDir: string, known: KnownWork = {}): Promise<void> {
  const trash = path.join(taskDir, `${TRASH_PREFIX}${randomHex(4)}`);
  try {
    fs.renameSync(path.join(taskDir, WORK_DIR), trash);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (known.files === undefined && known.emptyDirs === undefined && known.trees === undefined) {
    removeTree(trash);
    return;
  }
  for (const name of known.files ?? []) {
    try {
      fs.unlinkSync(path.join(trash, name));
    } catch {
      // not there, or not a file: the walk below removes what is left
    }
  }
  for (const name of known.emptyDirs ?? []) rmdirQuietly(path.join(trash, name));
  for (const name of known.trees ?? []) removeTree(path.join(trash, name), true);
  try {
    fs.rmdirSync(trash);
  } catch {
    removeTree(trash, true);
  }
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

