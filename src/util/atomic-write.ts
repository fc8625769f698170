import fs, { constants } from "node:fs";
import path from "node:path";
import { assertRealDirs } from "./confined-fs.js";
import { closeQuietly, rmQuietly } from "./quiet-fs.js";
import { randomHex } from "./random-hex.js";
import { pauseForTest } from "./test-pause.js";

/**
 * Write a file so that readers see either the old content or the new one, never a mix:
 * a temp file with an unpredictable name in the same folder (O_EXCL|O_NOFOLLOW), fsync, rename,
 * fsync of the folder.
 *
 * Blocking calls on purpose, like every state-file read and write of run-one
 * (docs/architecture.md, "Blocking file calls").
 *
 * `durable: false` skips both fsyncs, for a file that may be lost in a crash (a cache): readers
 * still never see a mix. `root`: the output folder the file lies in; a symbolic link on the way
 * below it is refused (src/util/confined-fs.ts). A link at the file's own name is replaced by
 * the rename, never followed.
 */
export interface WriteOptions {
  durable?: boolean;
  root?: string;
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array | Iterable<string | Uint8Array>, opts: WriteOptions = {}): void {
  const durable = opts.durable !== false;
  const dir = path.dirname(file);
  if (opts.root !== undefined) assertRealDirs(opts.root, dir);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomHex(6)}.tmp`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const fd = fs.openSync(tmp, flags, 0o666);
  try {
    try {
      if (typeof data === "string" || data instanceof Uint8Array) fs.writeFileSync(fd, data);
      else writePieces(fd, data);
      if (durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    rmQuietly(tmp);
    throw e;
  }
  if (path.basename(file) === "_done.json") pauseForTest("done-temp-written");
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    rmQuietly(tmp);
    throw e;
  }
  if (durable) fsyncDirSync(dir);
}

/** Pieces gathered into ~1 MB writes: a large file (a 10,000-row CSV) is never one string. Bytes are written as they are. */
function writePieces(fd: number, pieces: Iterable<string | Uint8Array>): void {
  let pending = "";
  for (const piece of pieces) {
    if (typeof piece !== "string") {
      if (pending !== "") fs.writeFileSync(fd, pending);
      pending = "";
      fs.writeFileSync(fd, piece);
      continue;
    }
    pending += piece;
    if (pending.length >= 1 << 20) {
      fs.writeFileSync(fd, pending);
      pending = "";
    }
  }
  if (pending !== "") fs.writeFileSync(fd, pending);
}

export async function writeFileAtomic(file: string, data: string | Uint8Array | Iterable<string | Uint8Array>, opts: WriteOptions = {}): Promise<void> {
  writeFileAtomicSync(file, data, opts);
}

export function writeJsonAtomicSync(file: string, value: unknown, opts: WriteOptions = {}): void {
  writeFileAtomicSync(file, JSON.stringify(value, null, 2) + "\n", opts);
}

export async function writeJsonAtomic(file: string, value: unknown, opts: WriteOptions = {}): Promise<void> {
  writeJsonAtomicSync(file, value, opts);
}

export function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fs.fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}
