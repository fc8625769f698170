import { DoneRecordSchema, type DoneRecord } from "../schemas/records.js";
import { readStateFileSync, type ReadResult } from "../util/read-json.js";

/** What a subject folder's `_done.json` says about a task with a given config hash. */
export type DoneState =
  | { kind: "current"; record: DoneRecord }
  | { kind: "outdated"; record: DoneRecord }
  | { kind: "none" }
  | { kind: "corrupt"; path: string; reason: string };

/** A corrupt or newer-schema `_done.json` never counts as done. */
export async function readDoneState(doneFile: string, configHash: string): Promise<DoneState> {
  return readDoneStateSync(doneFile, configHash);
}

/** `readDoneState` as a blocking read (the planner reads 200,000 of them in a plain loop). */
export function readDoneStateSync(doneFile: string, configHash: string): DoneState {
  return doneStateOf(readStateFileSync(doneFile, DoneRecordSchema), configHash);
}

/** The rules behind `readDoneState`, for callers that read the file their own way. */
export function doneStateOf(r: ReadResult<DoneRecord>, configHash: string): DoneState {
  switch (r.kind) {
    case "missing":
      return { kind: "none" };
    case "corrupt":
      return { kind: "corrupt", path: r.path, reason: r.reason };
    case "newer":
      return { kind: "corrupt", path: r.path, reason: `schema_version ${r.found} is newer than this cst-batch` };
    case "ok":
      return { kind: doneKindOf(r.value, configHash), record: r.value };
  }
}

/** A done record counts for a task only with the task's config hash; otherwise a config change outdated it. */
export function doneKindOf(record: { config_hash: string }, configHash: string): "current" | "outdated" {
  return record.config_hash === configHash ? "current" : "outdated";
}

/** csttool's own HTML report among a done record's files (relative to the subject folder), if any. */
export function findHtmlReport(files: readonly { path: string }[] | undefined): string | null {
  if (!files) return null;
  // endsWith first: status and collect look through ~25 file entries of 10,000 records.
  for (const f of files) if (f.path.endsWith("_report.html") && /^reports\/[^/]*_report\.html$/.test(f.path)) return f.path;
  return null;
}
