import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/**
 * The content hash of a DICOM series (content, not timestamps, src/plan/content-hash.ts and
 * src/run/inputs.ts): sha-256 over each file's name relative to the folder, size and sha-256, in
 * name order. run-one records it when the subject runs; a later plan computes it the same way.
 */
export function seriesDigest(dir: string, files: ReadonlyArray<{ path: string; size: number; sha256: string }>): string {
  const hash = createHash("sha256");
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) hash.update(`${path.relative(dir, f.path)}\0${f.size}\0${f.sha256}\n`);
  return hash.digest("hex");
}

const CHUNK = 1 << 20;

/** sha-256 of an open descriptor's bytes (positional reads, synchronous: DICOM files are small). */
export function sha256OfFdSync(fd: number): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; ; ) {
    const n = fs.readSync(fd, buf, 0, CHUNK, pos);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash.digest("hex");
}
