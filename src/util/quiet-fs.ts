import { closeSync, rmSync } from "node:fs";

/** Close a descriptor on a path where an error would change nothing (already closed, or cleanup). */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** Remove a file if it is there, best effort (cleanup after the real outcome is known). */
export function rmQuietly(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // best effort
  }
}
