import fs from "node:fs";
import { closeQuietly } from "../util/quiet-fs.js";

/**
 * The chunk index written beside a submission record (src/layout.ts `submissionChunksPath`):
 * what one array element needs of the record, readable without parsing the whole record (2.5 MB
 * at 200,000 tasks, read by every element: the study's work would grow as N²).
 *
 *   `CSTCHK1\n`, a JSON line {"submission_id", "plan_path", "chunks": N, "indices": M, "canary": K?},
 *   N + 1 unsigned 32-bit little-endian starts into the index list (the last is M),
 *   M unsigned 32-bit little-endian plan indices (chunk k's are [start k, start k + 1)).
 *
 * run-one reads the head, two starts and its chunk's indices: four small reads whatever the
 * study's size. A missing, damaged or mismatched file is null: the caller reads the record.
 */
const MAGIC = Buffer.from("CSTCHK1\n", "latin1");
const U32 = 4;
const MAX_HEAD = 64 * 1024;

export interface ChunkIndexHead {
  submission_id: string;
  plan_path: string;
  chunks: number;
  indices: number;
  /** The submission's canary K (absent: the record has none; src/failures/canary.ts's default). */
  canary?: number;
}

/** The chunk index's bytes for a submission's chunks. */
export function encodeSubmissionChunks(submissionId: string, planPath: string, chunks: readonly (readonly number[])[], canary?: number): Buffer {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const head = Buffer.from(JSON.stringify({ submission_id: submissionId, plan_path: planPath, chunks: chunks.length, indices: total, ...(canary !== undefined ? { canary } : {}) }) + "\n", "utf8");
  const buf = Buffer.alloc(MAGIC.length + head.length + (chunks.length + 1 + total) * U32);
  MAGIC.copy(buf, 0);
  head.copy(buf, MAGIC.length);
  let starts = MAGIC.length + head.length;
  let values = starts + (chunks.length + 1) * U32;
  let at = 0;
  for (const chunk of chunks) {
    buf.writeUInt32LE(at, starts);
    starts += U32;
    for (const index of chunk) {
      buf.writeUInt32LE(index, values);
      values += U32;
    }
    at += chunk.length;
  }
  buf.writeUInt32LE(at, starts);
  return buf;
}

function readAt(fd: number, length: number, position: number): Buffer | null {
  const buf = Buffer.allocUnsafe(length);
  return fs.readSync(fd, buf, 0, length, position) === length ? buf : null;
}

/** The head (null when it is not a chunk index of `submissionId`). */
function readHead(fd: number, submissionId: string): { head: ChunkIndexHead; end: number } | null {
  const first = Buffer.allocUnsafe(4096);
  let n = fs.readSync(fd, first, 0, first.length, 0);
  let data = first.subarray(0, n);
  if (n < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  let nl = data.indexOf(0x0a, MAGIC.length);
  while (nl < 0 && data.length < MAX_HEAD && n > 0) {
    const more = Buffer.allocUnsafe(4096);
    n = fs.readSync(fd, more, 0, more.length, data.length);
    data = Buffer.concat([data, more.subarray(0, n)]);
    nl = data.indexOf(0x0a, MAGIC.length);
  }
  if (nl < 0) return null;
  let head: unknown;
  try {
    head = JSON.parse(data.toString("utf8", MAGIC.length, nl));
  } catch {
    return null;
  }
  const h = head as Partial<ChunkIndexHead> | null;
  if (h === null || typeof h !== "object" || h.submission_id !== submissionId || typeof h.plan_path !== "string") return null;
  if (!Number.isSafeInteger(h.chunks) || !Number.isSafeInteger(h.indices) || (h.chunks as number) < 0 || (h.indices as number) < 0) return null;
  if (h.canary !== undefined && !(Number.isSafeInteger(h.canary) && (h.canary as number) >= 0)) return null;
  return { head: h as ChunkIndexHead, end: nl + 1 };
}

/**
 * Chunk `chunk` of submission `submissionId` from its chunk index: the plan path and the plan
 * indices, or `{ chunks }` alone when the chunk is out of range; null when the file cannot
 * answer (missing, damaged, another submission's, cut short).
 */
export function readSubmissionChunk(file: string, submissionId: string, chunk: number): { head: ChunkIndexHead; indices: number[] | null } | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return null;
  }
  try {
    const found = readHead(fd, submissionId);
    if (found === null) return null;
    const { head, end } = found;
    if (chunk >= head.chunks) return { head, indices: null };
    const pair = readAt(fd, 2 * U32, end + chunk * U32);
    if (pair === null) return null;
    const from = pair.readUInt32LE(0);
    const to = pair.readUInt32LE(U32);
    if (to < from || to > head.indices) return null;
    const values = end + (head.chunks + 1) * U32;
    if (to === from) return { head, indices: [] };
    const buf = readAt(fd, (to - from) * U32, values + from * U32);
    if (buf === null) return null;
    const indices: number[] = [];
    for (let k = 0; k < to - from; k++) indices.push(buf.readUInt32LE(k * U32));
    return { head, indices };
  } catch {
    return null;
  } finally {
    closeQuietly(fd);
  }
}
