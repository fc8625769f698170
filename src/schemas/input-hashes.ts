import * as z from "./zod.js";

/**
 * Content hashes of input files (`<out>/.cst-batch/input-hashes/<nn>.json`, src/plan/content-hash.ts),
 * keyed by `path NUL size NUL mtime_ms` (an entry counts only while the file keeps its inode),
 * `dicom NUL ...` for a series, or `same NUL <config hash>` for a proof (its `sha256`: the done
 * record's config hash whose bytes the task with that hash holds; src/plan/content-hash.ts).
 * A cache: deleting it costs one more read of the inputs, nothing else.
 */

/** One file's (or DICOM series') hash, with the inode it was read from (a series: 0). */
export const InputHashEntrySchema = z.object({ ino: z.number(), sha256: z.string() });

/** A cache file: the single one of an earlier cst-batch, or one shard of `input-hashes/` (src/plan/hash-cache.ts). */
export const InputHashesSchema = z.object({
  schema_version: z.literal(1),
  kind: z.literal("cst-batch-input-hashes"),
  entries: z.record(z.string(), InputHashEntrySchema),
});
export type InputHashes = z.infer<typeof InputHashesSchema>;
