import { DoneRecordSchema, type DoneRecord } from "../schemas/records.js";
import { readStateFile } from "../util/read-json.js";

/** What a subject folder's `_done.json` says about a task with a given config hash. */
export type DoneState =
  | { kind: "current"; record: DoneRecord }
  | { kind: "outdated"; record: DoneRecord }
  | { kind: "none" }
  | { kind: "corrupt"; path: string; reason: string };

/** A corrupt or newer-schema `_done.json` never counts as done. */
export async function readDoneState(doneFile: string, configHash: string): Promise<DoneState> {
  const r = await readStateFile(doneFile, DoneRecordSchema);
  switch (r.kind) {
    case "missing":
      return { kind: "none" };
    case "corrupt":
      return { kind: "corrupt", path: r.path, reason: r.reason };
    case "newer":
      return { kind: "corrupt", path: r.path, reason: `schema_version ${r.found} is newer than this cst-batch` };
    case "ok":
      return r.value.config_hash === configHash ? { kind: "current", record: r.value } : { kind: "outdated", record: r.value };
  }
}
