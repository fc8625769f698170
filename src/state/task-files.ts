// Reading the files of one subject folder for its task state: `_done.json` (through the status
// cache), `_failed_attempts/*/attempt.json`, a folder's names; each through a TaskIo.
import path from "node:path";
import { errnoCode } from "../errors.js";
import { ATTEMPT_FILE } from "../layout.js";
import type { PlanTaskRef } from "../plan/load-plan.js";
import { forManyRecords } from "../schemas/zod.js";
import type * as z from "../schemas/zod.js";
import { AttemptRecordSchema, DoneRecordSchema, type AttemptRecord } from "../schemas/records.js";
import type { DoneSummary } from "../schemas/status-cache.js";
import { parseStateText, type ReadResult } from "../util/read-json.js";
import { timeOf } from "../util/time.js";
import type { DoneRecordCache } from "./done-cache.js";
import { doneKindOf, doneStateOf, findHtmlReport, type DoneState } from "./done.js";
import { damagedAttemptProblem, damagedDoneProblem } from "./damage.js";
import type { TaskIo } from "./task-io.js";

export interface DoneRead {
  kind: DoneState["kind"];
  record: DoneSummary | null;
  htmlReport: string | null;
}

const NO_DONE: DoneRead = { kind: "none", record: null, htmlReport: null };

/**
 * The task's `_done.json`, from `cache` while the file is unchanged. Its identity (a `stat`) is
 * taken first also without a cache: a failed open costs ~5x as much (Node builds an Error for
 * it), and early in a study most subjects have no `_done.json`.
 */
export async function readDone(io: TaskIo, file: string, task: PlanTaskRef, cache: DoneRecordCache | undefined, problems: string[]): Promise<DoneRead> {
  let id: string | null;
  let done: DoneState;
  if (cache === undefined || !cache.has(task.output_dir)) {
    // Nothing cached for this subject (a first status, or collect): open it straight away, its
    // identity from the open descriptor; a `stat` first would be a second lookup of the path.
    let read: { text: string; id: string };
    try {
      read = await io.readTextWithId(file);
    } catch (e) {
      if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return NO_DONE;
      id = await io.statId(file);
      if (id === null) return NO_DONE;
      done = doneStateOf({ kind: "corrupt", path: file, reason: `cannot read: ${(e as Error).message}` }, task.config_hash);
      return afterRead(done, id, task, cache, problems);
    }
    id = read.id;
    done = doneStateOf(parseStateText(file, read.text, forManyRecords(DoneRecordSchema)), task.config_hash);
    return afterRead(done, id, task, cache, problems);
  }
  id = await io.statId(file);
  if (id === null) return NO_DONE;
  const cached = cache?.get(task.output_dir, id);
  if (cached) return { kind: doneKindOf(cached.record, task.config_hash), record: cached.record, htmlReport: cached.htmlReport };
  done = await readDoneFile(io, file, task.config_hash);
  return afterRead(done, id, task, cache, problems);
}

/** A done record just read: its problem noted, its summary cached. */
function afterRead(done: DoneState, id: string, task: PlanTaskRef, cache: DoneRecordCache | undefined, problems: string[]): DoneRead {
  if (done.kind === "corrupt") problems.push(damagedDoneProblem(done.path, done.reason));
  if (done.kind !== "current" && done.kind !== "outdated") return { ...NO_DONE, kind: done.kind };
  const r = done.record;
  const record: DoneSummary = {
    config_hash: r.config_hash,
    finished_at: r.finished_at,
    duration_seconds: r.duration_seconds,
    host: r.host,
    job_id: r.job_id,
    max_rss_kb: r.max_rss_kb,
    max_rss_source: r.max_rss_source,
    metrics_file: r.metrics_file,
    ...(r.had_failed_attempts !== undefined ? { had_failed_attempts: r.had_failed_attempts } : {}),
  };
  const htmlReport = findHtmlReport(r.files);
  cache?.put(task.output_dir, id, { record, htmlReport });
  return { kind: done.kind, record, htmlReport };
}

/** `readDoneState` (done.ts) through a `TaskIo`: the same rules, via `doneStateOf`. */
async function readDoneFile(io: TaskIo, file: string, configHash: string): Promise<DoneState> {
  return doneStateOf(await readStateWith(io, file, forManyRecords(DoneRecordSchema)), configHash);
}

/** `readStateFile` (util/read-json.ts) through a `TaskIo`. */
export async function readStateWith<T>(io: TaskIo, file: string, schema: z.ZodMiniType<T>): Promise<ReadResult<T>> {
  let text: string;
  try {
    text = await io.readText(file);
  } catch (e) {
    // ENOTDIR: a parent is a file (say, the subject folder), so the record is not there either.
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return { kind: "missing" };
    return { kind: "corrupt", path: file, reason: `cannot read: ${(e as Error).message}` };
  }
  return parseStateText(file, text, schema);
}

/** Read every `_failed_attempts/*\/attempt.json`, oldest first (finished_at, then attempt_id). */
export async function readFailedAttempts(io: TaskIo, failedDir: string, problems: string[]): Promise<AttemptRecord[]> {
  let entries: string[];
  try {
    entries = await io.readdir(failedDir);
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return [];
    problems.push(`${failedDir}: cannot list: ${(e as Error).message}`);
    return [];
  }
  const records: AttemptRecord[] = [];
  for (const name of entries.sort()) {
    if (name.startsWith(".")) continue;
    const r = await readStateWith(io, path.join(failedDir, name, ATTEMPT_FILE), forManyRecords(AttemptRecordSchema));
    switch (r.kind) {
      case "ok":
        records.push(r.value);
        break;
      case "missing":
        // A folder without a record (e.g. moved in by hand, or a crash mid-move): nothing to count.
        break;
      case "corrupt":
        problems.push(damagedAttemptProblem(r.path, r.reason));
        break;
      case "newer":
        problems.push(damagedAttemptProblem(r.path, `schema_version ${r.found} is newer than this cst-batch`));
        break;
    }
  }
  return records.sort(
    (a, b) => timeOf(a.finished_at) - timeOf(b.finished_at) || (a.attempt_id < b.attempt_id ? -1 : a.attempt_id > b.attempt_id ? 1 : 0),
  );
}

/** Names in a folder; empty when it does not exist (or cannot be read: that is added to `problems`). */
export async function listDir(io: TaskIo, dir: string, problems?: string[], statFirst = true): Promise<Set<string>> {
  // Early in a study most subject folders do not exist yet: a stat says so for less than a
  // failed readdir costs (Node builds an Error for that). Not when the caller has just looked
  // for a file in it (`statFirst` false): that look was the round trip a stat would repeat.
  if (statFirst && (await io.missing(dir))) return new Set();
  try {
    return new Set(await io.readdir(dir));
  } catch (e) {
    const code = errnoCode(e);
    if (code !== "ENOENT" && code !== "ENOTDIR") problems?.push(`${dir}: cannot list: ${(e as Error).message}`);
    return new Set();
  }
}

