import type { Submission } from "../schemas/study-records.js";

/**
 * The submission record's text, byte for byte `JSON.stringify(record, null, 2) + "\n"`, with its
 * chunk list rendered once. Submit rewrites the record after each array job it submits (a job id
 * more each time): 200 array jobs at 200,000 tasks, and the chunk list is nearly all of the
 * record (5.2 MB). Rendering it each time made the work grow as tasks x array jobs and filled the
 * heap with copies; now each rewrite renders the small rest and writes the same chunk bytes.
 */
export class SubmissionRecordText {
  /** The chunk list's text as UTF-8 bytes: written as they are, never copied or encoded again. */
  private chunksText: Buffer | null = null;
  private chunksOf: readonly (readonly number[])[] | null = null;

  /** The record's text as pieces, in order (for `writeFileAtomic`). */
  pieces(record: Submission): Array<string | Buffer> {
    if (this.chunksOf !== record.chunks) {
      this.chunksText = Buffer.from(chunksJson(record.chunks), "utf8");
      this.chunksOf = record.chunks;
    }
    const text = JSON.stringify({ ...record, chunks: SENTINEL }, null, 2) + "\n";
    const at = text.indexOf(SENTINEL_JSON);
    if (at < 0) return [text];
    return [text.slice(0, at), this.chunksText!, text.slice(at + SENTINEL_JSON.length)];
  }
}

/** Stands for the chunk list in the rest of the record (a NUL cannot be in a command line or a path). */
const SENTINEL = "\u0000cst-batch-chunks\u0000";
const SENTINEL_JSON = JSON.stringify(SENTINEL);

/** `JSON.stringify(chunks, null, 2)` as it appears one level down (a top-level key's value). */
export function chunksJson(chunks: readonly (readonly number[])[]): string {
  if (chunks.length === 0) return "[]";
  const parts = new Array<string>(chunks.length);
  for (let k = 0; k < chunks.length; k++) {
    const c = chunks[k]!;
    parts[k] = c.length === 0 ? "[]" : `[\n      ${c.map(numberJson).join(",\n      ")}\n    ]`;
  }
  return `[\n    ${parts.join(",\n    ")}\n  ]`;
}

function numberJson(n: number): string {
  return JSON.stringify(n);
}
