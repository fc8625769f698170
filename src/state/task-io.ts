import * as fs from "node:fs";
import { promises as fsp } from "node:fs";
import { errnoCode } from "../errors.js";
import { readTextSync } from "../util/read-json.js";
import { fileIdentity } from "./done-cache.js";

/**
 * How the subject folders are read. Both give the same results; they differ in speed:
 *   sync   blocking calls, a task at a time; on a local disk (or a warm page cache) several
 *          times faster than thread-pool round trips (measured: 10,000 done subjects ~1 s vs
 *          ~3 s on 2 cores);
 *   async  libuv's thread pool with many reads in flight; on NFS / Lustre / GPFS, where each
 *          open is a network round trip, overlapping them wins (set UV_THREADPOOL_SIZE to
 *          widen the pool, default 4).
 * "auto" picks async on a network filesystem (statfs type) and sync otherwise.
 */
export type IoMode = "auto" | "sync" | "async";

export interface TaskIo {
  readonly mode: "sync" | "async";
  /** Rejects with Node's errno error (ENOENT, ...). */
  readdir(dir: string): Promise<string[]>;
  readText(file: string): Promise<string>;
  exists(file: string): Promise<boolean>;
  /** `fileIdentity` of the file; null when it cannot be stat'ed (missing, or not to be seen). */
  statId(file: string): Promise<string | null>;
  /** True only when nothing is there (ENOENT, ENOTDIR); false also when it cannot be stat'ed. */
  missing(file: string): Promise<boolean>;
  /**
   * The text and `fileIdentity` of a file, the identity from the open descriptor: one lookup of
   * the path instead of a `stat` and an open. Rejects like readText.
   */
  readTextWithId(file: string): Promise<{ text: string; id: string }>;
}

export const SYNC_IO: TaskIo = {
  mode: "sync",
  readdir: async (dir) => fs.readdirSync(dir),
  readText: async (file) => readTextSync(file),
  exists: async (file) => fs.existsSync(file),
  statId: async (file) => {
    try {
      const st = fs.statSync(file, { throwIfNoEntry: false });
      return st ? fileIdentity(st) : null;
    } catch {
      return null;
    }
  },
  missing: async (file) => {
    try {
      return fs.statSync(file, { throwIfNoEntry: false }) === undefined;
    } catch {
      return false;
    }
  },
  readTextWithId: async (file) => {
    const fd = fs.openSync(file, "r");
    try {
      const id = fileIdentity(fs.fstatSync(fd));
      return { text: fs.readFileSync(fd, "utf8"), id };
    } finally {
      fs.closeSync(fd);
    }
  },
};

export const ASYNC_IO: TaskIo = {
  mode: "async",
  readdir: (dir) => fsp.readdir(dir),
  readText: readSmallTextFile,
  exists: (file) =>
    fsp.access(file).then(
      () => true,
      () => false,
    ),
  statId: (file) =>
    fsp.stat(file).then(
      (st) => fileIdentity(st),
      () => null,
    ),
  missing: (file) =>
    fsp.stat(file).then(
      () => false,
      (e: unknown) => errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR",
    ),
  readTextWithId: async (file) => {
    const handle = await fsp.open(file, "r");
    try {
      const id = fileIdentity(await handle.stat());
      return { text: await handle.readFile("utf8"), id };
    } finally {
      await handle.close();
    }
  },
};

/** statfs magic numbers of network / cluster filesystems (linux/magic.h and vendors). */
const NETWORK_FS_TYPES: ReadonlySet<number> = new Set([
  0x6969, // NFS
  0x0bd00bd0, // Lustre
  0x47504653, // GPFS / Spectrum Scale
  0x19830326, // BeeGFS
  0x00c36400, // CephFS
  0x517b, // SMB
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x5346414f, // AFS
  0x01021997, // 9p
  0xaad7aaea, // PanFS
  0x20030528, // OrangeFS / PVFS2
  0x65735546, // FUSE (sshfs, s3fs, many cluster clients)
]);

/** The TaskIo for a mode; "auto" looks at the filesystem of `dir`. */
export async function taskIoFor(dir: string, mode: IoMode = "auto"): Promise<TaskIo> {
  if (mode === "sync") return SYNC_IO;
  if (mode === "async") return ASYNC_IO;
  try {
    const st = await fsp.statfs(dir);
    return NETWORK_FS_TYPES.has(Number(st.type) >>> 0) ? ASYNC_IO : SYNC_IO;
  } catch {
    return ASYNC_IO;
  }
}

/** First read size: state and metrics files are a few KB, so one read usually gets all of it. */
const FIRST_READ = 16 * 1024;

/**
 * Read a small UTF-8 file with open + read (+ more reads when larger) + close: fewer trips
 * through the thread pool than fs.promises.readFile, which also fstat's and wraps a FileHandle.
 */
function readSmallTextFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    fs.open(file, "r", (openErr, fd) => {
      if (openErr) return reject(openErr);
      const chunks: Buffer[] = [];
      let size = FIRST_READ;
      const finish = (e: Error | null, text?: string): void => {
        fs.close(fd, () => (e ? reject(e) : resolve(text as string)));
      };
      const next = (): void => {
        const buf = Buffer.allocUnsafe(size);
        fs.read(fd, buf, 0, size, null, (e, n) => {
          if (e) return finish(e);
          if (n === 0) return finish(null, Buffer.concat(chunks).toString("utf8"));
          chunks.push(n === size ? buf : buf.subarray(0, n));
          size = Math.min(size * 2, 8 * 1024 * 1024);
          next();
        });
      };
      next();
    });
  });
}

