import { EXIT, type ExitCode } from "../errors.js";
import type { LocalStudyEvent, LocalStudyResult } from "../local/run-study.js";
import { formatDuration, createProgressRenderer } from "./progress.js";
import { color, getVerbosity, out } from "./output.js";
import { CANCEL_SIGNALS } from "../failures/signals.js";

/**
 * `submit --scheduler local` on the terminal: what `runLocalStudy` (src/local/run-study.ts) does,
 * said as it happens, Ctrl-C / SIGTERM / SIGHUP turned into an abort while the pool runs, and
 * the result printed and mapped to an exit code.
 */

const MAX_PROBLEMS_LISTED = 20;
const STOP_SIGNALS = CANCEL_SIGNALS;

export interface LocalConsole {
  /** Pass to the library: aborted by the first stop signal while the pool runs. */
  signal: AbortSignal;
  onEvent: (event: LocalStudyEvent) => void;
  /** Stop listening for signals and end the progress line (also after a thrown error). */
  close: () => void;
}

/** The event printer and the stop-signal handling of a local run. */
export function localConsole(json: boolean, quiet?: boolean): LocalConsole {
  const controller = new AbortController();
  let signalled: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = sig;
    out.info(`\n${sig}: stopping; running subjects and those not started are recorded as CANCELLED (press again to wait anyway)`);
    controller.abort("CANCELLED");
  };
  let renderer: ReturnType<typeof createProgressRenderer> | null = null;
  let listening = false;
  const close = (): void => {
    renderer?.finish();
    renderer = null;
    if (listening) for (const s of STOP_SIGNALS) process.off(s, onSignal);
    listening = false;
  };
  const onEvent = (e: LocalStudyEvent): void => {
    switch (e.type) {
      case "selected":
        // Damaged state files, as status and collect list them: path, reason, what becomes of it.
        if (json) return;
        if (e.jobsBasis) out.info(e.jobsBasis);
        for (const problem of e.problems.slice(0, MAX_PROBLEMS_LISTED)) out.warn(`damaged state file: ${problem}`);
        if (e.problems.length > MAX_PROBLEMS_LISTED) out.warn(`... and ${e.problems.length - MAX_PROBLEMS_LISTED} more damaged state file(s) (see --json)`);
        return;
      case "pool-started":
        for (const s of STOP_SIGNALS) process.on(s, onSignal);
        listening = true;
        out.info(`running ${e.indices.length} task(s) locally with ${e.jobs} worker(s) (${e.total - e.indices.length} already done)`);
        renderer = createProgressRenderer(process.stderr, quiet ?? getVerbosity() === "quiet");
        return;
      case "progress":
        renderer?.update(e.progress);
        return;
      case "pool-finished":
        close();
    }
  };
  return { signal: controller.signal, onEvent, close };
}

/** The outcome of a local run (or dry run) on the terminal or as JSON; returns the exit code. */
export function printLocalResult(result: LocalStudyResult, json: boolean, extra: Record<string, unknown> = {}): ExitCode {
  if (result.kind === "dry-run") {
    if (json) out.json({ ...extra, kind: "dry-run", scheduler: "local", jobs: result.jobs, plan_path: result.planPath, to_run: result.tasks.map((t) => t.key), problems: result.problems });
    else {
      out.info(`dry run: would run ${result.tasks.length} of ${result.total} task(s) here with ${result.jobs} worker(s):`);
      for (const t of result.tasks) out.info(`  ${t.key}  ${t.argv.join(" ")}`);
    }
    return EXIT.OK;
  }
  const { run, collected, recovered } = result;
  const summary = collected.summary;
  if (json) {
    out.json({
      ...extra,
      kind: "local",
      interrupted: run.interrupted,
      results: run.results.map((r) => ({ index: r.index, key: r.key, outcome: r.outcome.kind, category: r.outcome.kind === "failed" ? r.outcome.category : null })),
      jobs: result.jobs,
      canary_stop: run.canaryStop ? { not_run: run.canaryStop.notRun, message: run.canaryStop.message, next_step: run.canaryStop.nextStep } : null,
      summary: { counts: summary.counts, by_category: summary.by_category },
      problems: result.problems,
      recovered,
    });
  } else {
    for (const r of recovered) out.warn(`${r.key}: ${r.message}`);
    const c = summary.counts;
    out.info(
      `\n${color("1", "summary")}: ${c.success} done, ${c.failed} failed, ${c.running} running elsewhere, ${c.pending} pending  (elapsed ${formatDuration(run.progress.elapsedMs)})`,
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
  for (const r of run.results) {
    if (r.outcome.kind === "failed" && (r.outcome.attemptDir === null || r.outcome.category === "SYSTEM")) out.warn(`${r.key}: ${r.outcome.record.message}`);
  }
  if (run.canaryStop && !json) {
    out.warn(`canary: ${run.canaryStop.message}`);
    out.warn(`next: ${run.canaryStop.nextStep}`);
  }
  if (run.interrupted) return EXIT.INTERRUPTED;
  if (run.canaryStop) return EXIT.SYSTEM;
  if (run.results.some((r) => r.outcome.kind === "failed")) return EXIT.SUBJECT_FAILED;
  return EXIT.OK;
}
