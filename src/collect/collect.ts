import path from "node:path";
import { CstError, errnoCode } from "../errors.js";
import { resolveStudyDir } from "../study/study-folder.js";
import { setAsideOf, type SetAside } from "../study/set-aside.js";
import { currentPlanFile, openPlanRefs, type PlanRefs, type PlanTaskRef } from "../plan/load-plan.js";
import { OUTPUT_FILES, studyLinkChecked, taskKey } from "../layout.js";
import { assertNoLinks } from "../util/confined-fs.js";
import { FAILURE_CATEGORIES, type PlanHeader } from "../schemas/records.js";
import type { Summary } from "../schemas/study-records.js";
import { mapLimit } from "../util/map-limit.js";
import { openTaskStateReader, taskIoFor, type IoMode } from "../state/task-state.js";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic-write.js";
import { CST_BATCH_VERSION } from "../version.js";
import { datasetDescription, Participants } from "./bids.js";
import { foreignOutputProblem, foreignOutputs } from "./own-outputs.js";
import { CSV_EOL, csvRow } from "./csv.js";
import { AtomicSpool } from "./spool.js";
import { SummaryTasksSpool } from "./summary-spool.js";
import { collectTask, invalidCsvRow, type TaskRow } from "./task-row.js";
import { CSV_COLUMNS } from "../metrics/metrics-columns.js";
import { ReportRows } from "../report/report-rows.js";
import { writeBatchReport } from "../report/write-report.js";
import { recordEvent } from "../events/events.js";
import { canaryNote } from "./canary-note.js";
import { collectGarbage } from "../util/collect-garbage.js";

export { errorExcerpt } from "./task-row.js";

export interface CollectOptions {
  /** Plan to collect; default the current plan (`<out>/.cst-batch/plan.jsonl`, or a schema-1 study's `plan.json`). */
  planFile?: string;
  /** Subject folders read at once with async I/O; default 64. */
  concurrency?: number;
  /** File reading strategy (see `IoMode`); default "auto". */
  io?: IoMode;
  /**
   * Keep every task's record in the result's `summary.tasks` (default true). False: `tasks` is
   * empty and collect's memory does not grow with the study (the CLI; a 200,000-task study):
   * every record is in the written batch_summary.json, the first failed ones in `failed`.
   */
  keepTasks?: boolean;
}

export interface CollectResult {
  /** The summary written; `tasks` empty with `keepTasks: false`. */
  summary: Summary;
  /** The failed tasks: how many, and the first `FAILED_KEPT` of them (plan order). */
  failed: { count: number; first: Summary["tasks"] };
  /** Absolute paths of the files written. */
  files: string[];
  /** Damaged or missing state and metrics files, by path (also in the summary). */
  problems: string[];
  /** How the plan was made (source, per-subject timeout), for the failure catalogue's next steps. */
  plan: Pick<PlanHeader, "source" | "run">;
}

type SummaryTask = Summary["tasks"][number];

/** Failed tasks kept in `CollectResult.failed.first`. */
export const FAILED_KEPT = 100;

/**
 * Subject folders read per batch: as many as the reads in flight (64). A batch lives for a moment
 * only: a longer one outlives V8's young generation, and its rows pile up as garbage in the old
 * one (measured: 2,048 a batch raised the peak at 200,000 tasks by ~100 MB).
 */
const BATCH = 64;

/**
 * A full collection every this many subjects read, from 20,000 tasks (collectGarbage): what a
 * batch leaves is promoted garbage that V8 let pile up to ~4x the live heap, which stays at
 * 20-65 MB (a 200,000-task collect peaked at 404-428 MB; each collection here takes ~10-25 ms).
 */
const COLLECT_EVERY_TASKS = 10_000;

/**
 * Read every task's state under `out` and write `batch_summary.json`, `batch_metrics.csv`,
 * `batch_report.html`, `dataset_description.json` and `participants.tsv`, each atomically. Safe to run at any time,
 * also while tasks run: it only reads subject folders, and running tasks are reported as such.
 *
 * In bounded memory (docs/scale.md): the plan is streamed, the folders read a batch at a time,
 * the CSV and the summary's tasks written as they are made, counts and categories added up as
 * they go; the report holds at most `REPORT_ROWS_MAX` subjects (src/report/report-rows.ts).
 */
export async function collect(out: string, opts: CollectOptions = {}): Promise<CollectResult> {
  const outDir = path.resolve(out);
  const planFile = path.resolve(opts.planFile ?? currentPlanFile(outDir));
  const plan = await openPlanRefs(planFile, outDir);
  try {
    return await collectPlan(outDir, planFile, plan, opts);
  } finally {
    plan.close();
  }
}

async function collectPlan(outDir: string, planFile: string, planRefs: PlanRefs, opts: CollectOptions): Promise<CollectResult> {
  const plan = planRefs.header;
  // Refuses a plan of another study before anything is read or written here.
  resolveStudyDir(outDir, plan, planFile);
  const io = await taskIoFor(outDir, opts.io);
  const read = await openTaskStateReader(outDir, { ...(opts.io ? { io: opts.io } : {}), ...(opts.concurrency ? { concurrency: opts.concurrency } : {}) });
  const files = {
    summary: path.join(outDir, OUTPUT_FILES.summary),
    csv: path.join(outDir, OUTPUT_FILES.metricsCsv),
    description: path.join(outDir, OUTPUT_FILES.datasetDescription),
    participants: path.join(outDir, OUTPUT_FILES.participants),
  };
  assertNoLinks(outDir, studyLinkChecked(outDir));
  // A study-level file of the user's own is left alone (src/collect/own-outputs.ts).
  const foreign = foreignOutputs(outDir);
  // The CSV is written row by row, in plan order, as the folders are read (~1.4 KB a row: never
  // all of them in memory); it is put in place once every row is there. The summary's tasks too.
  const csvSpool = foreign.has(files.csv) ? null : await openOutput(files.csv, () => new AtomicSpool(files.csv, outDir));
  const summarySpool = foreign.has(files.summary) ? null : await openOutput(files.summary, () => new SummaryTasksSpool(outDir));
  csvSpool?.write(csvRow(CSV_COLUMNS) + CSV_EOL);

  const keepTasks = opts.keepTasks !== false;
  const kept: SummaryTask[] = [];
  const failedFirst: SummaryTask[] = [];
  const pending = new Map<number, string>();
  const participants = new Participants();
  const report = new ReportRows();
  const problems: string[] = [];
  const statuses = { success: 0, failed: 0, pending: 0, running: 0, stale: 0 };
  const categories = new Map<string, number>();
  let taskCount = 0;
  let readSinceCollected = 0;
  let lockNote: string | null = null;

  const add = (row: TaskRow): void => {
    const t = row.record;
    taskCount++;
    statuses[t.status]++;
    if (t.status === "failed") {
      if (t.category) categories.set(t.category, (categories.get(t.category) ?? 0) + 1);
      if (failedFirst.length < FAILED_KEPT) failedFirst.push(t);
    }
    if (t.status === "pending") pending.set(t.index, taskKey(t.subject, t.session));
    participants.add(t.subject, t.session, t.status === "success");
    problems.push(...row.problems);
    csvSpool?.write(row.csv + CSV_EOL);
    summarySpool?.add(t);
    if (keepTasks) kept.push(t);
    report.add(row.report);
  };
  const readBatch = async (batch: PlanTaskRef[]): Promise<void> => {
    const states = await read(batch);
    const rows = await mapLimit(
      batch,
      opts.concurrency ?? 64,
      async (task, i) => {
        const state = states[i]!;
        if (state.lock.kind === "unsupported") lockNote ??= state.lock.reason;
        return collectTask(outDir, task, state, io);
      },
      io.mode === "sync" ? 4 : 0,
    );
    for (const row of rows) add(row);
    // (Not while every task is kept: the live heap then grows with the study, and so would each collection.)
    readSinceCollected += rows.length;
    if (!keepTasks && readSinceCollected >= COLLECT_EVERY_TASKS) {
      readSinceCollected = 0;
      collectGarbage(plan.task_count);
    }
  };
  try {
    let batch: PlanTaskRef[] = [];
    await planRefs.forEach(async (task) => {
      batch.push(task);
      if (batch.length < Math.max(BATCH, opts.concurrency ?? 0)) return;
      const full = batch;
      batch = [];
      await readBatch(full);
    });
    if (batch.length > 0) await readBatch(batch);
  } catch (e) {
    csvSpool?.abort();
    summarySpool?.abort();
    throw e;
  }

  // Invalid subjects (--skip-invalid) are in no task: one CSV row each, status "invalid", their problems as the error.
  const setAside = setAsideOf(plan);
  for (const inv of setAside.invalid) csvSpool?.write(invalidCsvRow(inv) + CSV_EOL);

  if (lockNote) problems.push(`subject locks could not be probed (${lockNote}); running tasks may show as pending or failed`);

  const invalid = setAside.invalid.length;
  const summary: Summary = {
    schema_version: 1,
    kind: "cst-batch-summary",
    generated_at: new Date().toISOString(),
    cst_batch_version: CST_BATCH_VERSION,
    plan: { plan_id: plan.plan_id, path: planFile, created_at: plan.created_at, task_count: plan.task_count },
    counts: { total: taskCount + invalid, ...statuses, invalid, excluded: setAside.excluded.length },
    by_category: inCatalogueOrder(categories),
    tasks: kept,
    problems,
    ...nonEmpty(setAside),
  };
  const canary = await canaryNote(outDir, plan.plan_id, pending);
  pending.clear();
  // The reports are made from what was kept, not on top of the last batches' garbage.
  collectGarbage(plan.task_count);
  if (canary) summary.canary = canary;

  const written: string[] = [];
  const writeReport = async (file: string, write: () => Promise<void>): Promise<void> => {
    if (foreign.has(file)) {
      problems.push(foreignOutputProblem(file));
      return;
    }
    await writeOutput(file, write);
    written.push(file);
  };
  try {
    // Streamed above: 200,000 rows of ~90 columns are ~280 MB of text, never held.
    await writeReport(files.csv, async () => csvSpool?.commit());
    const reportFile = path.join(outDir, OUTPUT_FILES.report);
    const shown = report.result();
    await writeReport(reportFile, async () => {
      const written = await writeBatchReport(outDir, {
        generatedAt: summary.generated_at,
        planId: plan.plan_id,
        csttoolVersion: plan.csttool.version,
        counts: summary.counts,
        byCategory: summary.by_category,
        problemCount: problems.length,
        setAside,
        rows: shown.rows,
        sample: shown.sample,
        outliers: shown.outliers,
      });
      if (written.problem) problems.push(written.problem);
    });
    await writeReport(files.description, () => writeJsonAtomic(files.description, datasetDescription(plan), { root: outDir }));
    await writeReport(files.participants, () => writeFileAtomic(files.participants, participants.tsv(), { root: outDir }));
    // The summary last: its presence says the other reports of this run are in place.
    await writeReport(files.summary, async () => summarySpool?.commit(files.summary, { ...summary, tasks: [] }));
  } finally {
    summarySpool?.abort();
  }

  recordEvent(outDir, { event: "collected", plan_id: plan.plan_id, counts: summary.counts, by_category: summary.by_category, problems: problems.length });
  return { summary, failed: { count: statuses.failed, first: failedFirst }, files: written, problems, plan: { source: plan.source, run: plan.run } };
}

/** Open an output written piece by piece; a filesystem error becomes a CstError naming the file. */
async function openOutput<T>(file: string, open: () => T): Promise<T> {
  let opened: T | undefined;
  await writeOutput(file, async () => {
    opened = open();
  });
  return opened as T;
}

/** Run one atomic write; a filesystem error becomes a CstError naming the file. */
async function writeOutput(file: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    throw new CstError("SYSTEM", `cannot write ${file}: ${(e as Error).message}`, {
      cause: e,
      hint: errnoCode(e) === "ENOSPC" ? "the output filesystem is full; free space and run collect again" : "check that the output folder is writable",
    });
  }
}

/** Failed tasks per category, in the catalogue's order; categories with none are left out. */
function inCatalogueOrder(counts: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of FAILURE_CATEGORIES) {
    const n = counts.get(c);
    if (n) out[c] = n;
  }
  return out;
}

/** The set-aside lists that have entries (a summary without any keeps the shape it always had). */
function nonEmpty(s: SetAside): Partial<SetAside> {
  return { ...(s.invalid.length > 0 ? { invalid: s.invalid } : {}), ...(s.excluded.length > 0 ? { excluded: s.excluded } : {}) };
}
