import * as z from "./zod.js";

/**
 * Content hashes of input files (`<out>/.cst-batch/input-hashes.json`, src/plan/content-hash.ts),
 * keyed by `path NUL size NUL mtime_ms`; an entry counts only while the file keeps its inode.
 * A cache: deleting it costs one more read of the inputs, nothing else.
 */
export const InputHashesSchema = z.object({
  schema_version: z.literal(1),
  kind: z.literal("cst-batch-input-hashes"),
  entries: z.record(z.string(), z.object({ ino: z.number(), sha256: z.string() })),
});
export type InputHashes = z.infer<typeof InputHashesSchema>;
