import { collect } from "../collect/index.js";
import { EXIT } from "../errors.js";
import type { Plan } from "../schemas/records.js";
import { studyDirOfPlan } from "../study/study-folder.js";
import { taskPaths } from "../layout.js";
import { csttoolArgv } from "../run/csttool-argv.js";
import { selectLocalRun } from "../submit/pending.js";
import { defaultJobs, runLocal, type LocalRunResult } from "../local/run-local.js";
import { formatDuration, createProgressRenderer } from "./progress.js";
import { color, getVerbosity, out } from "./output.js";
import { recordEvent } from "../events/events.js";

export interface LocalSubmitParams {
  plan: Plan;
  /** The immutable plan file (`plans/<plan_id>.jsonl`). */
  planPath: string;
  jobs?: number;
  dryRun?: boolean;
  force?: boolean;
  adoptExisting?: boolean;
  timeoutMinutes?: number;
  graceSeconds?: number;
  json?: boolean;
  quiet?: boolean;
}

const MAX_PROBLEMS_LISTED = 20;

/**
 * `submit --scheduler local`: run the pending tasks here with a worker pool, then collect.
 * Ctrl-C / SIGTERM cancel the running subjects (recorded as CANCELLED), then collect still runs.
 * Returns the exit code.
 */
export async function submitLocal(p: LocalSubmitParams): Promise<number> {
  const study = studyDirOfPlan(p.planPath, p.plan);
  const { indices, problems } = await selectLocalRun(p.plan, study, p.force ?? false);
  const jobs = p.jobs ?? defaultJobs();
  // Damaged state files, as status and collect list them: path, reason, what becomes of it.
  if (!p.json) {
    for (const problem of problems.slice(0, MAX_PROBLEMS_LISTED)) out.warn(`damaged state file: ${problem}`);
    if (problems.length > MAX_PROBLEMS_LISTED) out.warn(`... and ${problems.length - MAX_PROBLEMS_LISTED} more damaged state file(s) (see --json)`);
  }
  if (p.dryRun) {
    if (p.json) out.json({ kind: "dry-run", scheduler: "local", jobs, plan_path: p.planPath, to_run: indices.map((i) => p.plan.tasks[i]!.key), problems });
    else {
      out.info(`dry run: would run ${indices.length} of ${p.plan.tasks.length} task(s) here with ${jobs} worker(s):`);
      for (const i of indices) out.info(`  ${p.plan.tasks[i]!.key}  ${csttoolArgv(p.plan.csttool.executable, p.plan.tasks[i]!, taskPaths(study, p.plan.tasks[i]!).dir).join(" ")}`);
    }
    return EXIT.OK;
  }

  const controller = new AbortController();
  let signalled: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = sig;
    out.info(`\n${sig}: stopping; running subjects are recorded as CANCELLED (press again to wait anyway)`);
    controller.abort("CANCELLED");
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, onSignal);

  recordEvent(study, { event: "submitted", scheduler: "local", plan_id: p.plan.plan_id, tasks: indices.length, job_ids: [], jobs });
  out.info(`running ${indices.length} task(s) locally with ${jobs} worker(s) (${p.plan.tasks.length - indices.length} already done)`);
  const renderer = createProgressRenderer(process.stderr, p.quiet ?? getVerbosity() === "quiet");
  let result: LocalRunResult;
  const recovered: { key: string; what: string; message: string }[] = [];
  try {
    result = await runLocal({
      planFile: p.planPath,
      plan: p.plan,
      indices,
      jobs,
      force: p.force,
      adoptExisting: p.adoptExisting,
      timeoutMinutes: p.timeoutMinutes,
      graceSeconds: p.graceSeconds,
      signal: controller.signal,
      onProgress: (pr) => renderer.update(pr),
      onRecovered: (e) => recovered.push({ key: e.task.key, what: e.what, message: e.message }),
    });
  } finally {
    renderer.finish();
    for (const s of signals) process.off(s, onSignal);
  }

  const collected = await collect(study);
  const summary = collected.summary;
  if (p.json) {
    out.json({
      kind: "local",
      interrupted: result.interrupted,
      results: result.results.map((r) => ({ index: r.index, key: r.key, outcome: r.outcome.kind, category: r.outcome.kind === "failed" ? r.outcome.category : null })),
      summary: { counts: summary.counts, by_category: summary.by_category },
      problems,
      recovered,
    });
  } else {
    for (const r of recovered) out.warn(`${r.key}: ${r.message}`);
    const c = summary.counts;
    out.info(
      `\n${color("1", "summary")}: ${c.success} done, ${c.failed} failed, ${c.running} running elsewhere, ${c.pending} pending  (elapsed ${formatDuration(result.progress.elapsedMs)})`,
    );
    const failed = summary.tasks.filter((t) => t.status === "failed");
    if (failed.length > 0) {
      out.info("failed subjects:");
      for (const t of failed.slice(0, 50)) {
        out.info(`  ${[t.subject, t.session].filter(Boolean).join(" ").padEnd(22)} ${String(t.category ?? "").padEnd(16)} ${t.error_log_path ?? t.log_path}`);
      }
      if (failed.length > 50) out.info(`  ... and ${failed.length - 50} more (see batch_summary.json)`);
    }
    out.info(`reports: ${collected.files.join(", ")}`);
  }
  // What collect left alone or found damaged (the first few; all of them in batch_summary.json).
  for (const problem of collected.problems.slice(0, 5)) out.warn(problem);
  if (collected.problems.length > 5) out.warn(`... and ${collected.problems.length - 5} more problem(s) (see "problems" in batch_summary.json)`);
  // A SYSTEM failure (the study's folder or environment, not the subject's data) and one that
  // could not even be recorded are said in full: the cause is not in csttool's log.
  for (const r of result.results) {
    if (r.outcome.kind === "failed" && (r.outcome.attemptDir === null || r.outcome.category === "SYSTEM")) out.warn(`${r.key}: ${r.outcome.record.message}`);
  }
  if (result.interrupted) return EXIT.INTERRUPTED;
  if (result.results.some((r) => r.outcome.kind === "failed")) return EXIT.SUBJECT_FAILED;
  return EXIT.OK;
}
