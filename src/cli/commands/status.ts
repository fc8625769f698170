import type { Command } from "commander";
import { CstError, EXIT } from "../../errors.js";
import type { FailureCategory } from "../../schemas/records.js";
import { nextStepsFor } from "../../failures/study.js";
import type { StatusReport } from "../../status/status.js";
import type { StatusRow } from "../../status/derive.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { color, out } from "../output.js";
import type { SetExit } from "./set-exit.js";
import { formatSetAside } from "../../study/set-aside.js";

interface StatusFlags {
  out: string;
  json?: boolean;
  watch?: boolean;
  interval?: string;
  failed?: boolean;
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
                    by an attempt that died without a record (the scheduler's reason shown when known)
  pending-in-queue  its newest array element is queued (or busy with an earlier task of its chunk)
  failed            an attempt record says so, or the scheduler ended the element with no record
                    (OOM, walltime, node failure, cancel): that verdict is written back as an
                    attempt record with recorded_by "scheduler" (once; --no-write-back to skip)
  not-run           the element ended before reaching the task
  unknown           submitted, but the scheduler no longer knows the element and nothing was recorded
  never-submitted   none of the above

The scheduler is asked once per status (all submissions batched): Slurm \`sacct -P\` when accounting
works, else \`squeue -t all\` (finished jobs visible for MinJobAge only); PBS/Torque \`qstat -f\`.

Examples:
  $ cst-batch status --out /scratch/study-cst
  $ cst-batch status --out results --failed --category TIMEOUT,OUT_OF_MEMORY
  $ cst-batch status --out results --watch --interval 30
  $ cst-batch status --out results --json | jq '.totals'
  $ cst-batch status --out results --exit-code || echo "some subjects failed"

Below the totals, each failure category found is listed with its next step for this study (the
failure catalogue; \`--json\`: "next_steps").

${exitCodesHelp([EXIT.OK, EXIT.USAGE, EXIT.SUBJECT_FAILED])}`;

/** `cst-batch status`: one row per task, totals, the scheduler's view folded in. */
export function registerStatusCommand(program: Command, setExit: SetExit): void {
  program
    .command("status")
    .description("show every task's state (done, running, queued, failed with its cause, stale, never submitted) from the records and the scheduler")
    .requiredOption("--out <dir>", "the output folder of `cst-batch submit`")
    .option("--json", "print the report as JSON on stdout")
    .option("--watch", "refresh until Ctrl-C (in place on a terminal; with --json one JSON document per line)")
    .option("--interval <seconds>", "seconds between refreshes with --watch (default 10, at least 2)")
    .option("--failed", "list only failed and stale tasks")
    .option("--category <list>", "list only tasks failed with these categories (TIMEOUT,OUT_OF_MEMORY,...; INPUT = INPUT_MISSING)")
    .option("--no-scheduler", "do not ask the scheduler; the output folder's records only")
    .option("--no-write-back", "do not record the scheduler's verdicts into subject folders")
    .option("--exit-code", "exit with the \"a subject failed\" code when a task is failed or stale (default: success whatever the subjects' outcome)")
    .addHelpText("after", HELP_AFTER)
    .action(async (flags: StatusFlags) => {
      const [{ readStatus }, { parseCategoryList }] = await Promise.all([import("../../status/status.js"), import("../../failures/categories.js")]);
      const categories = flags.category !== undefined ? parseCategoryList(flags.category) : null;
      const interval = parseInterval(flags.interval);
      if (flags.exitCode && flags.watch) throw new CstError("USAGE", "--exit-code cannot be combined with --watch", { hint: "run status once with --exit-code" });
      const read = (): Promise<StatusReport> =>
        readStatus(flags.out, { queryScheduler: flags.scheduler !== false, writeBack: flags.writeBack !== false, ...schedulerTimeout() });
      const show = (report: StatusReport): string => {
        const rows = filterRows(report.rows, Boolean(flags.failed), categories);
        return flags.json ? JSON.stringify(reportJson(report, rows), null, 2) + "\n" : formatReport(report, rows);
      };
      if (!flags.watch) {
        const report = await read();
        process.stdout.write(show(report));
        for (const p of report.problems.slice(0, 20)) out.warn(p);
        setExit(flags.exitCode && report.totals.failed + report.totals.stale > 0 ? EXIT.SUBJECT_FAILED : EXIT.OK);
        return;
      }
      // --watch --json: one compact JSON document per line and refresh (a stream a script can read).
      const showWatched = flags.json ? (r: StatusReport): string => JSON.stringify(reportJson(r, filterRows(r.rows, Boolean(flags.failed), categories))) + "\n" : show;
      await watch(read, showWatched, interval, Boolean(flags.json));
      setExit(EXIT.OK);
    });
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

/** Refresh every `interval` seconds until SIGINT/SIGTERM: in place on a terminal, as plain blocks otherwise. */
async function watch(read: () => Promise<StatusReport>, show: (r: StatusReport) => string, interval: number, jsonLines: boolean): Promise<void> {
  const tty = Boolean(process.stdout.isTTY) && !jsonLines;
  let stop = false;
  let wake: (() => void) | null = null;
  const onSignal = (): void => {
    stop = true;
    wake?.();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    while (!stop) {
      const report = await read();
      const text = show(report);
      const stamp = `status of ${report.out} at ${new Date().toLocaleTimeString()} (every ${interval} s; Ctrl-C stops)\n`;
      if (jsonLines) process.stdout.write(text);
      else if (tty) process.stdout.write(`\u001b[H\u001b[2J${stamp}${text}`);
      else process.stdout.write(`--- ${stamp}${text}\n`);
      if (stop) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, interval * 1000);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function filterRows(rows: StatusRow[], failedOnly: boolean, categories: FailureCategory[] | null): StatusRow[] {
  return rows.filter((r) => {
    if (failedOnly && r.state !== "failed" && r.state !== "stale") return false;
    if (categories && !(r.category !== null && categories.includes(r.category) && (r.state === "failed" || r.state === "stale"))) return false;
    return true;
  });
}

function reportJson(report: StatusReport, rows: StatusRow[]): unknown {
  return {
    kind: "cst-batch-status",
    generated_at: report.generatedAt,
    out: report.out,
    plan: { plan_id: report.plan.planId, path: report.plan.path, task_count: report.plan.taskCount },
    totals: report.totals,
    by_category: report.byCategory,
    next_steps: nextStepsFor(report.byCategory, report.study).map((n) => ({ category: n.category, count: n.count, next_step: n.nextStep })),
    scheduler: report.scheduler,
    submissions: report.submissions,
    write_backs: report.writeBacks,
    invalid: report.setAside.invalid,
    excluded: report.setAside.excluded,
    tasks: rows.map((r) => ({
      index: r.index,
      key: r.key,
      subject: r.subject,
      session: r.session,
      state: r.state,
      category: r.category,
      reason: r.reason,
      attempts: r.attempts,
      duration_seconds: r.durationSeconds,
      max_rss_kb: r.maxRssKb,
      job_id: r.jobId,
      log_path: r.logPath,
      error_log_path: r.errorLogPath,
      scheduler: r.scheduler,
    })),
    problems: report.problems,
  };
}

const STATE_COLOR: Partial<Record<StatusRow["state"], string>> = { done: "32", running: "36", failed: "31", stale: "33", "not-run": "33", unknown: "33" };

function formatDuration(s: number | null): string {
  if (s === null) return "";
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, "0")}m`;
}

function formatRss(kb: number | null): string {
  if (kb === null) return "";
  return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)}G` : `${Math.round(kb / 1024)}M`;
}

/** The human table (stdout) with totals under it. */
export function formatReport(report: StatusReport, rows: StatusRow[]): string {
  const header = ["subject", "session", "state", "category", "tries", "last", "maxrss", "job", "log", "note"];
  const cells = rows.map((r) => [
    r.subject,
    r.session ?? "",
    r.state,
    r.category ?? "",
    String(r.attempts),
    formatDuration(r.durationSeconds),
    formatRss(r.maxRssKb),
    r.jobId ?? "",
    r.state === "done" ? r.logPath : (r.errorLogPath ?? r.logPath),
    r.state === "done" ? "" : (r.reason ?? "").split("\n")[0]!.slice(0, 160),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: string[], colorState = false): string =>
    c
      .map((cell, i) => {
        const padded = i === c.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
        const code = colorState && i === 2 ? STATE_COLOR[cell as StatusRow["state"]] : undefined;
        return code ? color(code, padded) : padded;
      })
      .join("  ")
      .trimEnd();
  const lines = rows.length > 0 ? [line(header), ...cells.map((c) => line(c, true))] : [];
  const t = report.totals;
  const parts = (["done", "running", "pending-in-queue", "failed", "stale", "not-run", "unknown", "never-submitted"] as const).filter((k) => t[k] > 0).map((k) => `${t[k]} ${k}`);
  lines.push(`${t.total} task(s): ${parts.join(", ") || "none"}`);
  lines.push(...formatSetAside(report.setAside, report.out));
  const cats = Object.entries(report.byCategory);
  if (cats.length > 0) lines.push(`failures by category: ${cats.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  for (const n of nextStepsFor(report.byCategory, report.study)) lines.push(`next step for ${n.category} (${n.count}): ${n.nextStep}`);
  for (const s of report.scheduler.sources) {
    lines.push(`scheduler ${s.scheduler}: ${s.source === "none" ? "not asked successfully" : `via ${s.source}`}${s.note ? ` (${s.note})` : ""}`);
  }
  const written = report.writeBacks.filter((w) => w.outcome.kind === "written");
  if (written.length > 0) lines.push(`recorded the scheduler's verdict for ${written.length} task(s): ${written.slice(0, 10).map((w) => `${w.key} ${w.outcome.kind === "written" ? w.outcome.category : ""}`).join(", ")}${written.length > 10 ? ", ..." : ""}`);
  return lines.join("\n") + "\n";
}
