import { CstError } from "../errors.js";
import { shardChunks, type Shard } from "../schedulers/max-array-size.js";

/**
 * Group the pending plan indices into chunks of `chunkSize` (in plan order): array element k of
 * the submission runs chunks[k], one subject after another.
 */
export function makeChunks(pending: readonly number[], chunkSize: number): number[][] {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new CstError("USAGE", `--chunk-size must be a whole number >= 1, found ${String(chunkSize)}`);
  }
  const sorted = [...pending].sort((a, b) => a - b);
  const chunks: number[][] = [];
  for (let i = 0; i < sorted.length; i += chunkSize) chunks.push(sorted.slice(i, i + chunkSize));
  return chunks;
}

export interface ArrayLayout {
  chunks: number[][];
  /** One array job per shard; element k of shard s runs chunk `first_chunk + k`. */
  shards: Shard[];
}

/** Chunks, then shards of at most `maxArraySize` elements each. */
export function layoutArrays(pending: readonly number[], chunkSize: number, maxArraySize: number): ArrayLayout {
  const chunks = makeChunks(pending, chunkSize);
  return { chunks, shards: shardChunks(chunks.length, maxArraySize) };
}
