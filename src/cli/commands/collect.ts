import fs from "node:fs";
import type { Command } from "commander";
import type { CollectResult } from "../../collect/collect.js";
import path from "node:path";
import { EXIT } from "../../errors.js";
import type { StudyRef } from "../../failures/catalogue.js";
import { nextStepsFor } from "../../failures/study.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { getVerbosity, out, writeData } from "../output.js";
import type { SetExit } from "./set-exit.js";
import { formatSetAside } from "../../study/set-aside.js";

interface CollectFlags {
  out: string;
  json?: boolean;
  scheduler?: boolean;
  exitCode?: boolean;
}

/**
 * What only the scheduler knows (a task killed before it could write a record: OOM, walltime,
 * node failure) is recorded into the subject folders first (as `status` does), so the summary
 * and CSV carry it. Best effort: a scheduler that cannot be asked leaves the records as they are.
 */
async function recordSchedulerVerdicts(dir: string): Promise<void> {
  // Local mode and plain plans: no scheduler knows anything the records do not.
  if (await isLocal(dir)) return;
  const { streamStatus } = await import("../../status/status.js");
  try {
    // Only the write-backs matter here: the rows are not kept (a 200,000-task study).
    const report = await streamStatus(dir, { writeBack: true, schedulerPeaks: true }, () => undefined);
    const written = report.writeBacks.filter((w) => w.outcome.kind === "written" && w.kind !== "peak");
    const peaks = report.writeBacks.filter((w) => w.outcome.kind === "written" && w.kind === "peak");
    if (written.length > 0) out.info(`recorded the scheduler's verdict for ${written.length} task(s) that left no record`);
    if (peaks.length > 0) out.info(`recorded the scheduler's larger peak memory (MaxRSS, source sacct) for ${peaks.length} task(s)`);
    for (const s of report.scheduler.sources) if (s.source === "none" && s.note) out.warn(`scheduler not asked: ${s.note}`);
  } catch (e) {
    out.warn(`could not combine the scheduler's view: ${(e as Error).message}`);
  }
}

/** No scheduler submission is recorded in the study (local mode, or only planned). */
async function isLocal(dir: string): Promise<boolean> {
  const [{ readSubmissions }, { isLocalStudy }] = await Promise.all([import("../../status/submissions.js"), import("../../failures/study.js")]);
  return isLocalStudy(await readSubmissions(dir));
}

/** Failed subjects (and problems) listed one by one before the rest are summed up as "... and N more". */
const MAX_FAILED_LISTED = 50;
const MAX_PROBLEMS_LISTED = 20;

/** `cst-batch collect --out DIR [--json]`: write the batch reports; subjects that failed are findings, not a crash. */
export function registerCollectCommand(program: Command, setExit: SetExit): void {
  program
    .command("collect")
    .description(
      "Write batch_summary.json, batch_metrics.csv, dataset_description.json and participants.tsv into --out " +
        "(safe to run at any time, also while tasks run)",
    )
    .requiredOption("--out <dir>", "the output folder of `cst-batch plan`")
    .option("--json", "print the summary as JSON on stdout")
    .option("--no-scheduler", "do not ask the scheduler first (by default its verdicts for tasks that died without a record are recorded, as `status` does)")
    .option("--exit-code", "exit with the \"a subject failed\" code when a subject failed (default: success whatever the subjects' outcome)")
    .addHelpText(
      "after",
      `
Examples:
  $ cst-batch collect --out results
  $ cst-batch collect --out results --json | jq '.counts'
  $ xdg-open results/batch_report.html      # the batch report: totals, charts, subjects, outliers

batch_report.html is one self-contained page (no network needed; links are relative, so the
folder can be moved). Safe to run at any time, also while tasks are still running. Each failure
category found is listed with its next step for this study (the failure catalogue).

${exitCodesHelp([EXIT.OK, EXIT.USAGE, EXIT.SUBJECT_FAILED, EXIT.SYSTEM])}`,
    )
    .action(async (flags: CollectFlags) => {
      const { collect } = await import("../../collect/collect.js");
      if (flags.scheduler !== false) await recordSchedulerVerdicts(flags.out);
      // The tasks are in batch_summary.json, never all in memory (a 200,000-task study).
      const result = await collect(flags.out, { keepTasks: false });
      if (flags.json) await printSummaryJson(result);
      else {
        const { studyOfPlan } = await import("../../failures/study.js");
        printHuman(result, studyOfPlan(path.resolve(flags.out), result.plan, await isLocal(flags.out)));
      }
      setExit(flags.exitCode && result.summary.counts.failed > 0 ? EXIT.SUBJECT_FAILED : EXIT.OK);
    });
}

/**
 * `--json`: the summary as written to batch_summary.json (the same text), copied from the file in
 * pieces; when the file is the user's own (not written), the summary without its tasks.
 */
async function printSummaryJson(result: CollectResult): Promise<void> {
  const file = result.files.find((f) => path.basename(f) === "batch_summary.json");
  if (!file) {
    out.json(result.summary);
    return;
  }
  const fd = fs.openSync(file, "r");
  try {
    for (;;) {
      // A fresh buffer per piece: stdout may still hold the previous one.
      const buf = Buffer.allocUnsafe(1 << 20);
      const n = fs.readSync(fd, buf);
      if (n === 0) break;
      await writeData(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The short human report on stderr: counts, categories, failed subjects with their error log. */
function printHuman(result: CollectResult, study: StudyRef): void {
  const { summary, problems, files } = result;
  const c = summary.counts;
  out.info(
    `${c.total} task(s): ${c.success} succeeded, ${c.failed} failed, ${c.running} running, ${c.stale ? `${c.stale} stale, ` : ""}${c.pending} pending${c.invalid ? `, ${c.invalid} invalid` : ""}${c.excluded ? ` (${c.excluded} excluded)` : ""}`,
  );
  for (const line of formatSetAside({ invalid: summary.invalid ?? [], excluded: summary.excluded ?? [] }, study.out)) out.info(line);
  if (summary.canary) {
    const who = summary.canary.submission_id === "local" ? "the local run" : `submission ${summary.canary.submission_id}`;
    out.info(`canary: ${summary.canary.not_run.length} of the pending task(s) were not started by the canary of ${who} (not failures): ${summary.canary.message}`);
    out.info(`next step for the canary: ${summary.canary.next_step}`);
  }
  const categories = Object.entries(summary.by_category);
  if (categories.length) out.info(`failures by category: ${categories.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  for (const n of nextStepsFor(summary.by_category, study)) out.info(`next step for ${n.category} (${n.count}): ${n.nextStep}`);

  const failed = result.failed.first;
  if (failed.length) {
    const rows = failed.slice(0, MAX_FAILED_LISTED).map((t) => [
      t.session ? `${t.subject} ${t.session}` : t.subject,
      t.category ?? "",
      t.error_log_path ?? t.log_path,
    ]);
    out.info(formatTable(["subject", "category", "log"], rows));
    if (result.failed.count > MAX_FAILED_LISTED) out.info(`... and ${result.failed.count - MAX_FAILED_LISTED} more (see batch_summary.json)`);
  }
  const listed = getVerbosity() === "verbose" ? problems.length : MAX_PROBLEMS_LISTED;
  for (const p of problems.slice(0, listed)) out.warn(p);
  if (problems.length > listed) {
    out.warn(`... and ${problems.length - MAX_PROBLEMS_LISTED} more problem(s) (see "problems" in batch_summary.json)`);
  }
  out.info(`wrote ${files.join(", ")}`);
}

function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
