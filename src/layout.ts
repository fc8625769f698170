import path from "node:path";
import { hostId } from "./util/host-id.js";

/**
 * The output folder's layout, in one place:
 *
 *   <out>/.cst-batch/plan.jsonl, plan.idx    the current plan and its offsets (copies of the
 *                                           newest plans/<plan_id>.*)
 *   <out>/.cst-batch/plans/<plan_id>.jsonl  every plan ever written (immutable; arrays point here),
 *   <out>/.cst-batch/plans/<plan_id>.idx    each with its task offsets (src/plan/plan-index.ts)
 *   <out>/.cst-batch/plan.json              a study's current plan from cst-batch before schema 2
 *   <out>/.cst-batch/settings.json          the study's settings, given once (src/study/settings.ts)
 *   <out>/.cst-batch/input-hashes.json      content hashes of done subjects' inputs (a cache)
 *   <out>/.cst-batch/submissions/           one record per submit (<id>.json), its scripts and
 *                                           chunk index (<id>/chunks.idx)
 *   <out>/.cst-batch/events/<host>.jsonl    JSON-lines event log, one file per machine (src/events/)
 *   <out>/.cst-batch/events.jsonl           the event log of a study from cst-batch before 0.x (still read)
 *   <out>/.cst-batch/canary/<submission>/   the array tasks' canary: slot-<n>.json, verdict.json (local/: the last local run's verdict)
 *   <out>/logs/<key>.log, <key>_error.log   per-subject logs
 *   <out>/sub-X/[ses-Y/]                    the subject folder: promoted results + the files below
 *       _lock  _work/  _failed_attempts/<timestamp>_<CATEGORY>/  _promoted.json  _done.json
 *   <out>/batch_summary.json, batch_metrics.csv, dataset_description.json, participants.tsv
 */
export const STATE_DIR = ".cst-batch";
export const LOCK_FILE = "_lock";
export const WORK_DIR = "_work";
export const FAILED_DIR = "_failed_attempts";
export const DONE_FILE = "_done.json";
/** The files of the subject's last promoted result: what cst-batch may replace (src/run/ownership.ts). */
export const PROMOTED_FILE = "_promoted.json";
export const ATTEMPT_FILE = "attempt.json";
/** In `_work/`: the chosen DICOM series linked for csttool (a task with a `series_uid`). */
export const DICOM_SERIES_DIR = "dicom-series";
/** Names in a subject folder that belong to cst-batch, not to csttool's results. */
export const MANAGED_NAMES: ReadonlySet<string> = new Set([LOCK_FILE, WORK_DIR, FAILED_DIR, DONE_FILE, PROMOTED_FILE]);

export function stateDir(out: string): string {
  return path.join(out, STATE_DIR);
}
/** The current plan (schema 2). */
export function currentPlanPath(out: string): string {
  return path.join(out, STATE_DIR, "plan.jsonl");
}
/** The current plan of a study planned before schema 2 (read while no plan.jsonl exists). */
export function legacyCurrentPlanPath(out: string): string {
  return path.join(out, STATE_DIR, "plan.json");
}
export function plansDir(out: string): string {
  return path.join(out, STATE_DIR, "plans");
}
/** The immutable plan file of a plan id. */
export function planFilePath(out: string, planId: string): string {
  return path.join(plansDir(out), `${planId}.jsonl`);
}
/** The task offsets written next to a plan file: `x.jsonl` -> `x.idx` (any other name: `+ .idx`). */
export function planIndexPath(planFile: string): string {
  return `${planFile.replace(/\.jsonl?$/, "")}.idx`;
}
/** The study's settings (flags given once, used by later commands; docs/study-settings.md). */
export function settingsPath(out: string): string {
  return path.join(out, STATE_DIR, "settings.json");
}
/** The single cache file of content hashes an earlier cst-batch wrote (read once, then moved into the shards). */
export function inputHashesPath(out: string): string {
  return path.join(out, STATE_DIR, "input-hashes.json");
}
/** Content hashes of input files by path, size, mtime and inode, in shards (src/plan/hash-cache.ts). */
export function inputHashesDir(out: string): string {
  return path.join(out, STATE_DIR, "input-hashes");
}
export function inputHashesShardPath(out: string, shard: number): string {
  return path.join(inputHashesDir(out), `${String(shard).padStart(2, "0")}.json`);
}
export function submissionsDir(out: string): string {
  return path.join(out, STATE_DIR, "submissions");
}
/**
 * The chunk index of a submission record `submissions/<id>.json`: `submissions/<id>/chunks.idx`,
 * beside its job scripts (src/state/submission-chunks.ts). An array element reads its chunk there.
 */
export function submissionChunksPath(submissionFile: string): string {
  return path.join(submissionFile.replace(/\.json$/, ""), "chunks.idx");
}
/** The done records status has read, by file identity (see `DoneCacheSchema`). */
export function statusCachePath(out: string): string {
  return path.join(out, STATE_DIR, "status-cache.json");
}
/** The event logs' folder: one file per machine, so no two hosts ever append to the same file. */
export function eventsDir(out: string): string {
  return path.join(out, STATE_DIR, "events");
}
/** The event log this process appends to: `events/<host>.jsonl` (src/util/host-id.ts names the machine). */
export function hostEventLogPath(out: string): string {
  return path.join(out, STATE_DIR, "events", `${hostId()}.jsonl`);
}
/** The single shared event log of a study written before per-host files (read, never appended to). */
export function legacyEventLogPath(out: string): string {
  return path.join(out, STATE_DIR, "events.jsonl");
}
/** The canary of one submission's array tasks: `slot-<n>.json` per finished subject, `verdict.json` when it stops the rest. */
export function canaryDir(out: string, submissionId: string): string {
  return path.join(out, STATE_DIR, "canary", submissionId);
}
export function canaryVerdictPath(out: string, submissionId: string): string {
  return path.join(canaryDir(out, submissionId), "verdict.json");
}
export function logsDir(out: string): string {
  return path.join(out, "logs");
}

/** `sub-001` or `sub-001_ses-01`. */
export function taskKey(subject: string, session: string | null): string {
  return session ? `${subject}_${session}` : subject;
}
/** Relative subject folder: `sub-001` or `sub-001/ses-01`. */
export function relativeTaskDir(subject: string, session: string | null): string {
  // Validated ids (`sub-<letters/digits>`, src/plan/ids.ts): joined as they are, nothing to normalise.
  return session ? subject + path.sep + session : subject;
}
export function relativeLogFile(key: string): string {
  return `logs${path.sep}${key}.log`;
}
export function relativeErrorLogFile(key: string): string {
  return `logs${path.sep}${key}_error.log`;
}

export interface TaskPaths {
  /** The output folder: the root below which every write of the task is confined. */
  out: string;
  dir: string;
  lock: string;
  work: string;
  failed: string;
  done: string;
  promoted: string;
  log: string;
  errorLog: string;
}

/** Status and collect call this 10,000 times: `dir` and `logs` are joined once, plain names appended. */
export function taskPaths(out: string, task: { output_dir: string; key: string }): TaskPaths {
  const dir = path.join(out, task.output_dir);
  const logs = path.join(out, "logs");
  return {
    out,
    dir,
    lock: `${dir}${path.sep}${LOCK_FILE}`,
    work: `${dir}${path.sep}${WORK_DIR}`,
    failed: `${dir}${path.sep}${FAILED_DIR}`,
    done: `${dir}${path.sep}${DONE_FILE}`,
    promoted: `${dir}${path.sep}${PROMOTED_FILE}`,
    log: `${logs}${path.sep}${task.key}.log`,
    errorLog: `${logs}${path.sep}${task.key}_error.log`,
  };
}

/**
 * The study folder's paths where a planted symbolic link is refused up front, naming it
 * (src/util/confined-fs.ts `assertNoLinks`): its folders and the event logs. A link at
 * a file that is replaced whole (a plan, a report, a log) is removed or renamed over instead,
 * never followed.
 */
export function studyLinkChecked(out: string): string[] {
  // The input-hash cache too: it is read (and trusted) long before it is first replaced.
  return [stateDir(out), plansDir(out), submissionsDir(out), logsDir(out), eventsDir(out), hostEventLogPath(out), legacyEventLogPath(out), inputHashesPath(out), inputHashesDir(out)];
}

/** Every fixed path of the study folder (the per-subject ones are `taskPaths`). */
export function studyPaths(out: string): string[] {
  return [
    ...studyLinkChecked(out),
    currentPlanPath(out),
    planIndexPath(currentPlanPath(out)),
    legacyCurrentPlanPath(out),
    statusCachePath(out),
    settingsPath(out),
    ...Object.values(OUTPUT_FILES).map((f) => path.join(out, f)),
  ];
}

/** The folder csttool gets as `--out`: its work folder inside `_work/`, promoted from there. */
export function csttoolOutDir(taskDir: string): string {
  return path.join(taskDir, WORK_DIR, "csttool");
}

/** The folder csttool gets as `--dicom` when only one series of a DICOM folder is linked for it. */
export function dicomLinkDir(taskDir: string): string {
  return path.join(taskDir, WORK_DIR, DICOM_SERIES_DIR);
}

/**
 * Files csttool 0.5.x writes at the root of every run's `--out` that describe the whole
 * derivative dataset, not the subject (its BIDS output, bids/output.py): not promoted into the
 * subject folder (collect writes the study's own dataset_description.json and participants.tsv).
 */
export const CSTTOOL_STUDY_LEVEL_FILES: ReadonlySet<string> = new Set([
  "dataset_description.json",
  "participants.tsv",
  "participants.json",
  "participants.tsv.lock",
]);

export const OUTPUT_FILES = {
  summary: "batch_summary.json",
  metricsCsv: "batch_metrics.csv",
  datasetDescription: "dataset_description.json",
  participants: "participants.tsv",
  /** collect's report (src/report/). */
  report: "batch_report.html",
} as const;
