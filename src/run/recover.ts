import fs, { constants as fsConstants } from "node:fs";
import path from "node:path";
import { WORK_DIR, type TaskPaths } from "../layout.js";
import { csttoolArgv } from "./csttool-argv.js";
import { AttemptStartSchema, type FailureCategory, type PlanHeader, type PlanTask } from "../schemas/records.js";
import { rmQuietly } from "../util/quiet-fs.js";
import { mkdirConfined } from "../util/confined-fs.js";
import { readStateFileSync } from "../util/read-json.js";
import { archiveWorkDir, buildAttemptRecord, failedAttemptDir, hostName, taskIdentity, type RunIdentity } from "./attempt.js";
import { applyPromotion, readJournal, removeTrash } from "./promote.js";
// The tiny O_APPEND appender, not pino: keeps run-one's start-up light (see src/events/events.ts).
import { recordEvent } from "../events/events.js";
import { failureLines, noteSubjectLog, readLogTail } from "../events/subject-log.js";
import { type StudyRef } from "../failures/catalogue.js";
import type { RunOneEvent, TaskRef } from "./outcome.js";

/** What an earlier run of the subject left: an interrupted promotion finished, a dead attempt filed away. */

/** Finish an interrupted promotion, or file away the work folder of a run that died. */
export async function recover(out: string, paths: TaskPaths, task: PlanTask, header: PlanHeader, ref: TaskRef, emit: (e: RunOneEvent) => void, study: StudyRef): Promise<void> {
  // No `_work`: no earlier attempt or promotion to finish.
  if (!(await removeTrash(paths.dir)).has(WORK_DIR)) return;
  const journal = await readJournal(paths.work);
  if (journal.kind === "ok") {
    await applyPromotion(paths.out, paths.dir, journal.journal);
    emit({ type: "recovered", task: ref, what: "promotion", message: `finished an interrupted promotion in ${paths.dir}` });
    return;
  }
  let workStat: fs.Stats;
  try {
    workStat = fs.lstatSync(paths.work);
  } catch {
    return;
  }
  if (!workStat.isDirectory()) {
    // cst-batch never makes `_work` a link or a file: remove it without writing through it.
    fs.rmSync(paths.work, { force: true });
    emit({ type: "recovered", task: ref, what: "attempt", message: `removed ${paths.work}: it was ${workStat.isSymbolicLink() ? "a symbolic link" : "not a folder"} (not made by cst-batch)` });
    return;
  }
  const startRead = readStateFileSync(path.join(paths.work, "attempt.json"), AttemptStartSchema);
  const start = startRead.kind === "ok" ? startRead.value : null;
  const category: FailureCategory = start?.pending_category ?? "KILLED";
  const now = new Date();
  const startedAt = start?.started_at ?? now.toISOString();
  const who = start ? `host ${start.host}, pid ${start.pid}, job ${start.job_id ?? "none"}, started ${start.started_at}` : "unknown (no readable attempt.json)";
  const message =
    journal.kind === "corrupt"
      ? `an earlier attempt (${who}) died while writing its promotion journal (${journal.reason}); nothing was promoted`
      : `an earlier attempt (${who}) ended without recording its outcome${start?.pending_category ? ` (it was stopping: ${start.pending_category})` : " (killed, or its node failed)"}`;
  const identity: RunIdentity = {
    ...taskIdentity(header, task),
    config_hash: start?.config_hash ?? task.config_hash,
    plan_id: start?.plan_id ?? header.plan_id,
    started_at: startedAt,
    finished_at: now.toISOString(),
    duration_seconds: Math.max(0, (now.getTime() - Date.parse(startedAt)) / 1000) || 0,
    host: start?.host ?? "unknown",
    pid: start?.pid ?? 0,
    job_id: start?.job_id ?? null,
    csttool_argv: csttoolArgv(header.csttool.executable, task, paths.dir),
    max_rss_kb: null,
    max_rss_source: null,
  };
  const tail = await readLogTail(paths.log);
  const target = await failedAttemptDir(paths.out, paths.dir, category, now);
  const record = buildAttemptRecord(target.id, identity, { category, message, exitCode: null, signal: null, logTail: tail, recordedBy: "recovery", study });
  noteSubjectLog(paths.out, paths.log, [`recovered by a later run (pid ${process.pid} on ${hostName()})`, ...failureLines(category, message, record.next_step)]);
  await archiveWorkDir(paths.work, paths.dir, record, target, paths.log);
  await copyErrorLog(paths);
  recordEvent(out, { event: "failed", key: task.key, index: task.index, category, message, next_step: record.next_step, attempt_dir: target.dir, duration_seconds: null });
  emit({ type: "recovered", task: ref, what: "attempt", message: `${message}; moved to ${path.relative(paths.dir, target.dir)}` });
}

export async function copyErrorLog(paths: TaskPaths): Promise<void> {
  try {
    mkdirConfined(paths.out, path.dirname(paths.errorLog));
    // unlink removes a planted symlink itself; EXCL: never write through one planted meanwhile.
    rmQuietly(paths.errorLog);
    fs.copyFileSync(paths.log, paths.errorLog, fsConstants.COPYFILE_EXCL);
  } catch {
    // no log (failed before it was opened) or no space: the record holds the tail
  }
}
