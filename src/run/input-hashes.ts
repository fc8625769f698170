import { createHash } from "node:crypto";
import fs from "node:fs";
import type { InputHash } from "../schemas/records.js";

/**
 * Content, not timestamps (issue 18): run-one hashes (sha-256) the bytes of a subject's NIfTI
 * inputs from the descriptors its input check opened (src/run/inputs.ts), while csttool runs, and
 * records them in the subject's own `_done.json` (`input_hashes`). A later plan that finds the
 * same sizes with new mtimes (`touch`, a copy without timestamps) hashes the files again and keeps
 * the subject done when the bytes match (src/plan/content-hash.ts). No shared file is written.
 *
 * Metadata cost: the open replaces the stat the check made anyway (one path lookup per file);
 * the identity comes from the open descriptor, and the check at the end is a descriptor stat.
 */

/** An input file opened for the check, with its identity as the descriptor saw it. */
export interface OpenedInput {
  path: string;
  fd: number;
  size: number;
  mtime_ms: number;
  ino: number;
}

const CHUNK = 1 << 20;

/** sha-256 of a descriptor's bytes from offset 0 (positional reads: the descriptor's offset is never moved). */
async function sha256OfFd(fd: number): Promise<string> {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; ; ) {
    const n = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, CHUNK, pos, (e, bytes) => (e ? reject(e) : resolve(bytes))));
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash.digest("hex");
}

/** The inputs' hashes (null when one cannot be read: then nothing is recorded, never a partial set). */
export async function hashInputs(opened: readonly OpenedInput[]): Promise<InputHash[] | null> {
  try {
    const out: InputHash[] = [];
    for (const f of opened) out.push({ path: f.path, size: f.size, mtime_ms: f.mtime_ms, ino: f.ino, sha256: await sha256OfFd(f.fd) });
    return out;
  } catch {
    return null;
  }
}

/** The inputs whose size or mtime changed since they were opened (a descriptor stat each: no path lookup). */
export function changedSinceOpened(opened: readonly OpenedInput[]): string[] {
  const changed: string[] = [];
  for (const f of opened) {
    try {
      const st = fs.fstatSync(f.fd);
      if (st.size !== f.size || st.mtimeMs !== f.mtime_ms) changed.push(f.path);
    } catch {
      changed.push(f.path);
    }
  }
  return changed;
}

/** Close the descriptors (idempotent per call site: the list is emptied). */
export function closeInputs(opened: OpenedInput[]): void {
  for (const f of opened.splice(0)) {
    try {
      fs.closeSync(f.fd);
    } catch {
      // already closed
    }
  }
}
