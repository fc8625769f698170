import { relativeErrorLogFile, relativeLogFile } from "../layout.js";
import { MAX_RSS_SOURCES, type MaxRssSource } from "../schemas/records.js";
import type { DoneSummary } from "../schemas/status-cache.js";
import type { TaskState, TaskStateRef } from "./task-state.js";

/**
 * Every task's `TaskState`, held compactly for the length of one status (200,000 of them: the
 * whole objects were most of status's memory). The two common shapes keep almost nothing:
 *   done   `_done.json` current, no failed attempt, no attempt in progress: its record summary
 *          only (strings shared between tasks: config hash, host, source);
 *   empty  nothing in the subject folder (no record, no attempt): nothing at all;
 * any other state is kept whole (without its `problems`, which the reader takes at once).
 * What the plan task gives (key, subject, log paths, the config hash of a current record) is
 * rebuilt from it on `get`. A done record's `metrics_file` is not kept (status never reads it;
 * collect reads its own states): it comes back as "".
 */
export class TaskStateStore {
  private readonly kind: Uint8Array;
  /** Whole states; for a done one, its record's `finished_at`. */
  private readonly kept: Array<string | TaskState | undefined>;
  private readonly jobIds: Array<string | null | undefined>;
  private readonly hosts: Array<string | undefined>;
  private readonly durations: Float64Array;
  private readonly rss: Float64Array;
  private readonly sources: Uint8Array;
  private readonly shared = new Map<string, string>();

  constructor(readonly size: number) {
    this.kind = new Uint8Array(size);
    this.kept = new Array(size);
    this.jobIds = new Array(size);
    this.hosts = new Array(size);
    this.durations = new Float64Array(size);
    this.rss = new Float64Array(size);
    this.sources = new Uint8Array(size);
  }

  put(s: TaskState): void {
    const errorLog = s.errorLogPath === null ? 0 : FLAG_ERROR_LOG;
    if (isPlainDone(s)) {
      const r = s.doneRecord!;
      const i = s.index;
      this.kind[i] = KIND_DONE | errorLog;
      this.kept[i] = r.finished_at;
      this.jobIds[i] = r.job_id;
      this.hosts[i] = this.share(r.host);
      this.durations[i] = r.duration_seconds;
      this.rss[i] = r.max_rss_kb ?? Number.NaN;
      this.sources[i] = r.max_rss_source === null ? 0 : MAX_RSS_SOURCES.indexOf(r.max_rss_source) + 1;
      return;
    }
    if (isEmpty(s)) {
      this.kind[s.index] = KIND_EMPTY | errorLog;
      return;
    }
    this.kind[s.index] = KIND_WHOLE;
    this.kept[s.index] = s.problems.length === 0 ? s : { ...s, problems: [] };
  }

  /** The state of `task` (put before); a fresh object each time. */
  get(task: TaskStateRef): TaskState {
    const k = this.kind[task.index]!;
    const kind = k & ~FLAG_ERROR_LOG;
    if (kind === KIND_WHOLE) return this.kept[task.index] as TaskState;
    if (kind !== KIND_DONE && kind !== KIND_EMPTY) throw new Error(`internal: no state kept for task ${task.index}`);
    const record = kind === KIND_DONE ? this.doneRecord(task) : null;
    return {
      index: task.index,
      key: task.key,
      subject: task.subject,
      session: task.session,
      outputDir: task.output_dir,
      status: record ? "success" : "pending",
      done: record ? "current" : "none",
      damagedDone: null,
      doneRecord: record,
      htmlReport: null,
      failedAttempts: [],
      latestAttempt: null,
      attempts: record ? 1 : 0,
      started: false,
      lock: { kind: "not-probed" },
      lockOwnerAlive: null,
      attemptStart: null,
      attemptOwnerAlive: null,
      category: null,
      error: null,
      durationSeconds: record?.duration_seconds ?? null,
      host: record?.host ?? null,
      jobId: record?.job_id ?? null,
      maxRssKb: record?.max_rss_kb ?? null,
      maxRssSource: record?.max_rss_source ?? null,
      logPath: relativeLogFile(task.key),
      errorLogPath: k & FLAG_ERROR_LOG ? relativeErrorLogFile(task.key) : null,
      problems: [],
    };
  }

  /** What tells whether the task has a record since a time (status's chunk rule), without its plan task. */
  facts(index: number): Pick<TaskState, "done" | "lock" | "started" | "failedAttempts"> & { doneRecord: { finished_at: string; job_id: string | null } | null } {
    const k = (this.kind[index] ?? 0) & ~FLAG_ERROR_LOG;
    if (k === KIND_WHOLE) return this.kept[index] as TaskState;
    if (k === KIND_DONE) return { done: "current", lock: NOT_PROBED, started: false, failedAttempts: [], doneRecord: { finished_at: this.kept[index] as string, job_id: this.jobIds[index] ?? null } };
    if (k === KIND_EMPTY) return { done: "none", lock: NOT_PROBED, started: false, failedAttempts: [], doneRecord: null };
    throw new Error(`internal: no state kept for task ${index}`);
  }

  private doneRecord(task: TaskStateRef): DoneSummary {
    const i = task.index;
    const r = this.rss[i]!;
    const source = this.sources[i]!;
    return {
      config_hash: task.config_hash,
      finished_at: this.kept[i] as string,
      duration_seconds: this.durations[i]!,
      host: this.hosts[i]!,
      job_id: this.jobIds[i] ?? null,
      max_rss_kb: Number.isNaN(r) ? null : r,
      max_rss_source: source === 0 ? null : (MAX_RSS_SOURCES[source - 1] as MaxRssSource),
      metrics_file: "",
    };
  }

  private share(s: string): string {
    const known = this.shared.get(s);
    if (known !== undefined) return known;
    if (this.shared.size < 10_000) this.shared.set(s, s);
    return s;
  }
}

const NOT_PROBED = { kind: "not-probed" } as const;
const KIND_WHOLE = 1;
const KIND_DONE = 2;
const KIND_EMPTY = 3;
const FLAG_ERROR_LOG = 0x80;

function isPlainDone(s: TaskState): boolean {
  return (
    s.status === "success" &&
    s.done === "current" &&
    s.doneRecord !== null &&
    s.failedAttempts.length === 0 &&
    !s.started &&
    s.lock.kind === "not-probed" &&
    s.attemptStart === null &&
    s.damagedDone === null &&
    s.logPath === relativeLogFile(s.key)
  );
}

function isEmpty(s: TaskState): boolean {
  return (
    s.status === "pending" &&
    s.done === "none" &&
    s.doneRecord === null &&
    s.failedAttempts.length === 0 &&
    !s.started &&
    s.lock.kind === "not-probed" &&
    s.attemptStart === null &&
    s.damagedDone === null &&
    s.logPath === relativeLogFile(s.key)
  );
}
