import * as z from "./zod.js";
import { DoneRecordSchema, SCHEMA_VERSION } from "./records.js";

// Apart from records.ts: run-one builds every schema of records.ts at start-up and needs none of these.

const schemaVersion = z.literal(SCHEMA_VERSION);

/**
 * What status and collect keep of a `_done.json` record (10,000 of these are held at once, and
 * status caches them): whether it is current, and the run's facts they show.
 */
export const DoneSummarySchema = z.pick(DoneRecordSchema, {
  config_hash: true,
  finished_at: true,
  duration_seconds: true,
  host: true,
  job_id: true,
  max_rss_kb: true,
  max_rss_source: true,
  metrics_file: true,
  had_failed_attempts: true,
});
export type DoneSummary = z.infer<typeof DoneSummarySchema>;

/**
 * `<out>/.cst-batch/status-cache.json`: the done records status has read, each with the identity
 * (inode, size, mtime, ctime) of the `_done.json` it came from. A record is taken from here only
 * while its file's identity is unchanged; anything else is read from the subject folder again.
 *
 * JSON Lines, so that status reads and writes it in bounded memory: this header line, then one
 * `DoneCacheEntry` per line in plan order (a file of an earlier cst-batch, one JSON object, is
 * not read: the cache is rebuilt).
 */
export const DoneCacheHeaderSchema = z.object({
  schema_version: schemaVersion,
  kind: z.literal("cst-batch-status-cache"),
  layout: z.literal("lines"),
});

export const DoneCacheEntrySchema = z.object({
  /** The subject folder, relative to out. */
  dir: z.string(),
  /** `ino:size:mtimeMs:ctimeMs` of its `_done.json`. */
  id: z.string(),
  html_report: z.nullable(z.string()),
  record: DoneSummarySchema,
});
export type DoneCacheEntry = z.infer<typeof DoneCacheEntrySchema>;
