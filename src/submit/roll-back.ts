import { promises as fsp } from "node:fs";
import path from "node:path";
import { CstError } from "../errors.js";
import { canaryDir, submissionChunksPath } from "../layout.js";
import { cancelCommands, onlyGoneIds } from "../schedulers/cancel-batches.js";
import { runSchedulerCommand, type CommandOutcome, type RunCommandOptions } from "../schedulers/runner.js";
import type { SchedulerBackend } from "../schedulers/types.js";
import { formatArgv, shellQuote } from "../shell/shell-quote.js";
import type { SubmitPreparation } from "./submit.js";

/**
 * A submit is all or nothing: when a scheduler command fails, the shards already submitted are
 * cancelled and the record is taken out of `submissions/` (see submit.ts).
 */

export interface Failure {
  message: string;
  details: string[];
  /** The command may have created a job we could not learn the id of (timeout, garbage output). */
  mayHaveSubmitted: boolean;
  cause?: unknown;
}

/** null when the command succeeded; else what went wrong, naming the command and its stderr. */
export function describeFailure(outcome: CommandOutcome, argv: string[], backend: SchedulerBackend): Failure | null {
  const cmd = argv[0] ?? backend.submitCommand;
  const stderrTail = (s: string): string => s.trim().split("\n").slice(-10).join("\n");
  switch (outcome.kind) {
    case "ok":
      return null;
    case "missing":
      return { message: `${cmd} is not on PATH`, details: [`PATH=${process.env.PATH ?? ""}`], mayHaveSubmitted: false };
    case "failed":
      return {
        message: `${cmd} failed (${outcome.exitCode !== null ? `exit status ${outcome.exitCode}` : `signal ${outcome.signal ?? "?"}`})`,
        details: [`stderr: ${stderrTail(outcome.stderr) || "(empty)"}`, ...(outcome.stdout.trim() ? [`stdout: ${outcome.stdout.trim().slice(0, 500)}`] : [])],
        mayHaveSubmitted: false,
      };
    case "timeout":
      return {
        message: `${cmd} did not answer within ${Math.round(outcome.timeoutMs / 1000)} s and was stopped`,
        details: [`stderr: ${stderrTail(outcome.stderr) || "(empty)"}`],
        mayHaveSubmitted: true,
      };
  }
}

/** Undo a partial submit (cancel what was submitted) and build the error to throw. */
export async function rollBack(
  prep: SubmitPreparation,
  backend: SchedulerBackend,
  submitted: string[],
  runOpts: RunCommandOptions,
  what: string,
  argv: string[],
  failure: Failure,
): Promise<CstError> {
  const details = [`command: ${formatArgv(argv)}`, ...failure.details];
  let hint = "fix the problem above, then rerun the same command: nothing was left submitted";
  if (failure.mayHaveSubmitted) {
    details.push(`the scheduler may still have created a job for ${what}; look for jobs named ${JSON.stringify(prep.submission.resources.job_name)} and cancel them (duplicates are harmless: each subject is locked and skipped once done)`);
  }
  if (submitted.length > 0) {
    // In commands of bounded size (cancelCommands), as `cancel` sends them; the first that fails stops.
    const argvs = cancelCommands(backend, submitted);
    const sent: string[][] = [];
    for (const cancelArgv of argvs) {
      const cancel = await runSchedulerCommand(cancelArgv, runOpts);
      if (cancel.kind === "ok" || onlyGoneIds(backend, cancel)) {
        sent.push(cancelArgv);
        continue;
      }
      // Keep the record in place: it names exactly the jobs that exist.
      const left = argvs.slice(sent.length).map((a) => formatArgv(a)).join("; ");
      details.push(
        ...(sent.length > 0 ? [`cancelled some of the job(s) already submitted: ${sent.map((a) => formatArgv(a)).join("; ")}`] : []),
        `could not cancel the job(s) already submitted (${formatArgv(cancelArgv)}: ${cancel.kind === "failed" ? cancel.stderr.trim() || cancel.stdout.trim() || `exit ${cancel.exitCode}` : cancel.kind})`,
        `they are recorded in ${prep.recordPath} (collect was not submitted)`,
      );
      return new CstError("SCHEDULER", `submitting ${what} failed: ${failure.message}`, {
        details,
        hint: `cancel them by hand (${left}) or let them run; then run \`cst-batch collect --out ${shellQuote(prep.outDir)}\``,
        cause: failure.cause,
      });
    }
    details.push(`cancelled the job(s) already submitted: ${sent.map((a) => formatArgv(a)).join("; ")}`);
  }
  // Nothing of this submit exists any more: take the record out of submissions/ (kept for inspection).
  const aside = path.join(prep.scriptsDir, "submit-failed.json");
  await fsp.rename(prep.recordPath, aside).catch(() => fsp.rm(prep.recordPath, { force: true }).catch(() => {}));
  // Its chunk index goes too: an array element of this submission (none should run) finds no chunk.
  await fsp.rm(submissionChunksPath(prep.recordPath), { force: true }).catch(() => {});
  // Its canary folder, made at submit time, goes when still empty (rmdir never removes a slot).
  await fsp.rmdir(canaryDir(prep.outDir, prep.submission.submission_id)).catch(() => {});
  details.push(`no submission was recorded; the scripts and the attempted record are in ${prep.scriptsDir}`);
  return new CstError("SCHEDULER", `submitting ${what} failed: ${failure.message}`, { details, hint, cause: failure.cause });
}
