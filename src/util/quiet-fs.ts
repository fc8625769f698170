import { closeSync, unlinkSync } from "node:fs";

/** Close a descriptor on a path where an error would change nothing (already closed, or cleanup). */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * Remove a file (or a link: never what it points to) if it is there, best effort (cleanup
 * after the real outcome is known). unlink, not rmSync, which loads Node's rimraf module.
 */
export function rmQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // best effort
  }
}
