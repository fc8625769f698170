import type { Command } from "commander";
import { CATEGORY_VALUES, choiceOption } from "../completion-values.js";
import { CstError, EXIT } from "../../errors.js";
import type { FailureCategory } from "../../schemas/records.js";
import { nextStepsFor } from "../../failures/study.js";
import path from "node:path";
import type { StatusOptions, StatusOverview } from "../../status/status.js";
import type { StatusRow } from "../../status/derive.js";
import { summarizeStatus } from "../../status/summary.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { out, writeData } from "../output.js";
import { chooseView, formatFailing, formatRows, formatWhatNow, PIPE_LINES, RowTable, schedulerLines, totalsLine } from "../status-format.js";
import { watchStatus } from "../status-watch.js";
import type { SetExit } from "./set-exit.js";
import { formatSetAside } from "../../study/set-aside.js";

interface StatusFlags {
  out: string;
  json?: boolean;
  watch?: boolean;
  interval?: string;
  failed?: boolean;
  all?: boolean;
  category?: string;
  scheduler?: boolean;
  writeBack?: boolean;
  exitCode?: boolean;
}

const HELP_AFTER = `
States (how each is derived, in this order):
  done              _done.json is current for the task's configuration
  running           the subject lock is held by a live run-one (or the scheduler runs its element)
  stale             the lock is held by orphans of a dead run-one, or _work/attempt.json was left
                    by an attempt that died without a record (the scheduler's reason shown when known);
                    collect counts it the same way (one derivation: src/state/task-state.ts)
  pending-in-queue  its newest array element is queued (or busy with an earlier task of its chunk)
  failed            an attempt record says so, or the scheduler ended the element with no record
                    (OOM, walltime, node failure, cancel): that verdict is written back as an
                    attempt record with recorded_by "scheduler" (once; --no-write-back to skip)
  damaged           _done.json cannot be read (its path is shown; the next run moves it aside)
  not-run           the element ended before reaching the task
  unknown           submitted, but the scheduler no longer knows the element and nothing was recorded
  never-submitted   none of the above
  invalid           set aside by --skip-invalid: preflight found errors in the subject (its problems
                    are the note; --json "problems"); in no task, never run. Fix them, then
                    \`cst-batch plan --out DIR\` (the study's settings are recorded) picks it up

The scheduler is asked once per status (all submissions batched): Slurm \`sacct -P\` when accounting
works, else \`squeue -t all\` (finished jobs visible for MinJobAge only); PBS/Torque \`qstat -f\`;
LSF \`bjobs -a -o ...\` (finished jobs visible for CLEAN_PERIOD only).

Examples:
  $ cst-batch status --out /scratch/study-cst
  $ cst-batch status --out results --failed --category TIMEOUT,OUT_OF_MEMORY
  $ cst-batch status --out results --watch --interval 30
  $ cst-batch status --out results --json | jq '.totals'
  $ cst-batch status --out results --exit-code || echo "some subjects failed"

What is shown: one row per task when every row fits on the terminal (with the summary under it),
else the summary: counts by state, failing subjects by category, damaged markers. Off a terminal
(a pipe or a file) the same rule applies with a budget of 50 lines. --all lists every row,
--failed / --category the failing ones. Notes are cut at a word to fit the width (full text in
--json). A task that ended without a record of its own names the scheduler's output file
(e.g. logs/scheduler/array_12_3.out) as its log.

It always ends with "what now": per failure category the next step for this study (from the
failure catalogue), with logs to read first; stale, damaged and never-run tasks; what is still
running or queued (--json: "next_steps" and "what_now"). When the newest run's canary stopped
subjects because the first K all failed with a SYSTEM problem, they show as not-run (not failed)
and "what now" names the verdict, its cause and the fix once (--json: "canary").

--watch redraws in place on a terminal (fixed header and summary), shows a scheduler that cannot
be asked as one state line (not a message per refresh), and exits by itself once nothing is
queued or running (Ctrl-C stops it earlier). Off a terminal it prints a block when something
changed.

${exitCodesHelp([EXIT.OK, EXIT.USAGE, EXIT.SUBJECT_FAILED])}`;

/** `cst-batch status`: the study's state (rows or a summary), the scheduler's view folded in, and what to do next. */
export function registerStatusCommand(program: Command, setExit: SetExit): void {
  program
    .command("status")
    .description("show the study's state (done, running, queued, failed with its cause, stale, damaged, never submitted) and what to do next")
    .requiredOption("--out <dir>", "the output folder of `cst-batch submit`")
    .option("--json", "print the report as JSON on stdout")
    .option("--watch", "refresh until nothing is queued or running (in place on a terminal; with --json one JSON document per line)")
    .option("--interval <seconds>", "seconds between refreshes with --watch (default 10, at least 2)")
    .option("--all", "list every task (default: rows when they fit on the terminal, else a summary)")
    .option("--failed", "list only failed, stale, damaged and invalid tasks")
    .addOption(choiceOption("--category <list>", "list only tasks failed with these categories (TIMEOUT,OUT_OF_MEMORY,...; INPUT = INPUT_MISSING)", CATEGORY_VALUES))
    .option("--no-scheduler", "do not ask the scheduler; the output folder's records only")
    .option("--no-write-back", "do not record the scheduler's verdicts into subject folders")
    .option("--exit-code", "exit with the \"a subject failed\" code when a task is failed or stale (default: success whatever the subjects' outcome)")
    .addHelpText("after", HELP_AFTER)
    .action(async (flags: StatusFlags) => {
      const { parseCategoryList } = await import("../../failures/categories.js");
      const categories = flags.category !== undefined ? parseCategoryList(flags.category) : null;
      const interval = parseInterval(flags.interval);
      if (flags.exitCode && flags.watch) throw new CstError("USAGE", "--exit-code cannot be combined with --watch", { hint: "run status once with --exit-code" });
      const statusOpts = { queryScheduler: flags.scheduler !== false, writeBack: flags.writeBack !== false, ...schedulerTimeout() };
      const wanted = rowFilter(Boolean(flags.failed), categories);
      const listRequested = Boolean(flags.all || flags.failed || categories);
      if (!flags.watch) {
        const terminal = process.stdout.isTTY ? { rows: process.stdout.rows ?? null, columns: process.stdout.columns ?? 120 } : null;
        const write = writeData;
        // Rows are printed (or counted) as status makes them: a 200,000-task study is never held.
        const report = flags.json
          ? await printJson(flags.out, statusOpts, wanted, write)
          : await printHuman(flags.out, statusOpts, wanted, write, { listRequested, terminalRows: terminal?.rows ?? null, width: terminal?.columns ?? 160 });
        for (const p of report.problems.slice(0, 20)) out.warn(p);
        setExit(flags.exitCode && report.totals.failed + report.totals.stale > 0 ? EXIT.SUBJECT_FAILED : EXIT.OK);
        return;
      }
      // Each refresh streams the study too: rows are kept only while they could be shown (all of
      // them for a list), and --json writes each refresh's document (one line) as its rows are
      // made, so a 200,000-task study is watched in bounded memory.
      const { streamStatus } = await import("../../status/status.js");
      const readWatched = async (): Promise<Watched> => {
        if (flags.json) {
          const overview = await printJson(flags.out, statusOpts, wanted, writeData, true);
          return { ...overview, shown: null, count: 0 };
        }
        const cap = listRequested ? Number.POSITIVE_INFINITY : Math.max(process.stdout.rows ?? 0, PIPE_LINES);
        let shown: StatusRow[] | null = [];
        let count = 0;
        const overview = await streamStatus(flags.out, statusOpts, (row) => {
          if (!wanted(row)) return;
          count++;
          if (shown && shown.length < cap) shown.push(row);
          else shown = null;
        });
        return { ...overview, shown, count };
      };
      await watchStatus<Watched>({
        read: readWatched,
        interval,
        json: Boolean(flags.json),
        renderJson: () => "", // written by readWatched as it streams
        render: (r, size) => formatReport(r, r.shown, { listRequested, terminalRows: size.rows, width: size.columns, watching: true, rowCount: r.count }),
        warn: (p) => out.warn(p),
      });
      setExit(EXIT.OK);
    });
}

/** A watch refresh: the overview, the rows kept to be shown (null: more than fit), and how many there were. */
type Watched = StatusOverview & { shown: StatusRow[] | null; count: number };

/** Output gathered into pieces of ~64 KB before it is written. */
class Pieces {
  private text = "";
  constructor(private readonly write: (text: string) => Promise<void> | undefined) {}
  /** A promise when the reader is behind: the caller waits (streamStatus awaits onRow). */
  add(text: string): Promise<void> | undefined {
    this.text += text;
    return this.text.length >= 1 << 16 ? this.flush() : undefined;
  }
  flush(): Promise<void> | undefined {
    const text = this.text;
    this.text = "";
    return text !== "" ? this.write(text) : undefined;
  }
}

/**
 * `--json`: the document is written as the rows are made: its `tasks` array first (each row as
 * it comes), then the other fields, known once every row is made (docs/status.md).
 */
async function printJson(dir: string, opts: StatusOptions, wanted: (r: StatusRow) => boolean, write: (text: string) => Promise<void> | undefined, oneLine = false): Promise<StatusOverview> {
  const { streamStatus } = await import("../../status/status.js");
  const outp = new Pieces(write);
  let first = true;
  let started = false;
  const open = oneLine ? '{"tasks":[' : '{\n  "tasks": [';
  const overview = await streamStatus(dir, opts, (row) => {
    const opened = started ? undefined : outp.add(open);
    started = true;
    if (!wanted(row)) return opened;
    const more = outp.add(oneLine ? (first ? "" : ",") + JSON.stringify(taskJson(row)) : (first ? "\n" : ",\n") + indent(JSON.stringify(taskJson(row), null, 2), "    "));
    first = false;
    return opened ?? more;
  });
  if (!started) outp.add(open);
  if (oneLine) {
    outp.add("]," + JSON.stringify(reportJson(overview, null)).slice(1) + "\n");
  } else {
    outp.add(first ? "],\n" : "\n  ],\n");
    const rest = JSON.stringify(reportJson(overview, null), null, 2);
    outp.add(rest.slice(2));
    outp.add("\n");
  }
  await outp.flush();
  return overview;
}

function indent(text: string, pad: string): string {
  return pad + text.replace(/\n/g, `\n${pad}`);
}

/**
 * The human report, streamed: a requested list (`--all`, `--failed`, `--category`) is printed as
 * the rows come (src/cli/status-format.ts `RowTable`); otherwise rows are kept only while they
 * could still fit the terminal, and the view (rows or summary) is chosen at the end as before.
 */
async function printHuman(
  dir: string,
  opts: StatusOptions,
  wanted: (r: StatusRow) => boolean,
  write: (text: string) => Promise<void> | undefined,
  view: { listRequested: boolean; terminalRows: number | null; width: number },
): Promise<StatusOverview> {
  const { streamStatus } = await import("../../status/status.js");
  const outp = new Pieces(write);
  const table = view.listRequested ? new RowTable(path.resolve(dir), view.width) : null;
  const budget = view.terminalRows ?? PIPE_LINES;
  let kept: StatusRow[] | null = [];
  let count = 0;
  const overview = await streamStatus(dir, opts, (row) => {
    if (!wanted(row)) return;
    count++;
    if (table) {
      let wait: Promise<void> | undefined;
      for (const line of table.add(row)) wait = outp.add(line + "\n") ?? wait;
      return wait;
    }
    if (kept && kept.length < budget) kept.push(row);
    else kept = null;
  });
  if (table) {
    for (const line of table.finish()) outp.add(line + "\n");
    outp.add(afterRows(overview, "rows", count).join("\n") + "\n");
  } else {
    outp.add(formatReport(overview, kept, { listRequested: false, terminalRows: view.terminalRows, width: view.width, rowCount: count }));
  }
  await outp.flush();
  return overview;
}

function schedulerTimeout(): { schedulerTimeoutMs?: number } {
  const v = Number(process.env.CST_BATCH_SCHEDULER_TIMEOUT_SECONDS);
  return Number.isFinite(v) && v > 0 ? { schedulerTimeoutMs: v * 1000 } : {};
}

function parseInterval(text: string | undefined): number {
  if (text === undefined) return 10;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 2) {
    throw new CstError("USAGE", `--interval must be a number of seconds >= 2, found ${JSON.stringify(text)}`, { hint: "status asks the scheduler on every refresh; keep it modest (10-60 s)" });
  }
  return n;
}

function rowFilter(failedOnly: boolean, categories: FailureCategory[] | null): (r: StatusRow) => boolean {
  return (r) => {
    if (failedOnly && r.state !== "failed" && r.state !== "stale" && r.state !== "damaged" && r.state !== "invalid") return false;
    if (categories && !(r.category !== null && categories.includes(r.category) && (r.state === "failed" || r.state === "stale"))) return false;
    return true;
  };
}

/** The JSON document; `rows` null: without `tasks` (printed before it, as they are made). */
function reportJson(report: StatusOverview, rows: StatusRow[] | null): unknown {
  const summary = summarizeStatus(report);
  return {
    kind: "cst-batch-status",
    generated_at: report.generatedAt,
    out: report.out,
    plan: { plan_id: report.plan.planId, path: report.plan.path, task_count: report.plan.taskCount },
    totals: report.totals,
    by_category: report.byCategory,
    failing: summary.failing,
    damaged: summary.damaged,
    next_steps: nextStepsFor(report.byCategory, report.study).map((n) => ({ category: n.category, count: n.count, next_step: n.nextStep })),
    what_now: summary.nextSteps,
    scheduler: report.scheduler,
    submissions: report.submissions,
    write_backs: report.writeBacks,
    canary: report.canary
      ? { submission_id: report.canary.submissionId, written_at: report.canary.writtenAt, first: report.canary.first, not_run: report.canary.notRun, message: report.canary.message, next_step: report.canary.nextStep }
      : null,
    invalid: report.setAside.invalid,
    excluded: report.setAside.excluded,
    ...(rows ? { tasks: rows.map(taskJson) } : {}),
    problems: report.problems,
  };
}

function taskJson(r: StatusRow): unknown {
  return {
    index: r.state === "invalid" ? null : r.index,
    key: r.key,
    subject: r.subject,
    session: r.session,
    state: r.state,
    category: r.category,
    reason: r.reason,
    attempts: r.attempts,
    duration_seconds: r.durationSeconds,
    max_rss_kb: r.maxRssKb,
    max_rss_source: r.maxRssSource,
    job_id: r.jobId,
    log_path: r.logPath,
    error_log_path: r.errorLogPath,
    scheduler_log_path: r.schedulerLogPath,
    damaged_file: r.damagedFile,
    scheduler: r.scheduler,
    ...(r.problems ? { problems: r.problems } : {}),
  };
}

/**
 * The human report: rows or the summary (see `chooseView`), the scheduler's state, then what now.
 * `rows` null: there were more than could fit (`opts.rowCount` of them), so the summary.
 */
export function formatReport(
  report: StatusOverview,
  rows: readonly StatusRow[] | null,
  opts: { listRequested: boolean; terminalRows: number | null; width: number; watching?: boolean; rowCount?: number } = { listRequested: true, terminalRows: null, width: 160 },
): string {
  const rowCount = opts.rowCount ?? rows?.length ?? 0;
  const summary = summarizeStatus(report);
  const failing = formatFailing(report, summary);
  const tail = [...schedulerLines(report), ...formatWhatNow(report, summary)];
  const chosen = chooseView({ listRequested: opts.listRequested, rowCount, summaryLines: 2 + failing.length + tail.length + (opts.watching ? 1 : 0), terminalRows: opts.terminalRows });
  const view = rows === null ? "summary" : chosen;
  const lines: string[] = [];
  if (view === "rows") lines.push(...formatRows(report, rows ?? [], opts.width));
  lines.push(...afterRows(report, view, rowCount));
  return lines.join("\n") + "\n";
}

/** What follows the rows (or stands without them): totals, set-aside subjects, the summary, the scheduler, what now. */
function afterRows(report: StatusOverview, view: "rows" | "summary", rowCount: number): string[] {
  const summary = summarizeStatus(report);
  const lines: string[] = [totalsLine(report)];
  lines.push(...formatSetAside(report.setAside, report.out, { fixLine: false }));
  if (view === "summary") {
    const failing = formatFailing(report, summary);
    if (failing.length > 0) lines.push("failing subjects by category:", ...failing);
    lines.push(`(summary: ${rowCount} rows do not fit; --all lists every task, --failed the failing ones, --json everything)`);
  }
  lines.push(...schedulerLines(report), ...formatWhatNow(report, summary));
  return lines;
}
