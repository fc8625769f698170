import { getBackend } from "../schedulers/index.js";
import { runSchedulerCommand, type RunCommandOptions } from "../schedulers/runner.js";
import type { SchedulerName, TaskSchedulerState } from "../schedulers/types.js";
import { arrayJobIds, readSubmissions } from "../status/submissions.js";

/**
 * The study's array jobs that the scheduler will still run (some element pending or running),
 * from the earlier submission records of the same scheduler. A throttled submit makes the first
 * shard of each of its lanes wait for them (see throttle-lanes.ts), so a resubmission never runs
 * beside an earlier submission still in flight and the study-wide cap holds.
 *
 * Asks the live queue (`squeue -t all` / `qstat -t`), not accounting: a job submitted a moment
 * ago may not be in sacct yet. `warning` is set when the queue cannot be asked.
 */
export interface InFlight {
  jobIds: string[];
  /** The query run, for the record; null when there was nothing to ask about. */
  command: string[] | null;
  warning: string | null;
}

/** squeue/qstat answer "Invalid job id" / "Unknown Job Id" when every id has left the queue. */
function emptyQueueAnswer(text: string): boolean {
  return /invalid job id|unknown job id|job has finished|job <\d+> is not found/i.test(text);
}

export async function findInFlight(out: string, scheduler: SchedulerName, opts: RunCommandOptions = {}): Promise<InFlight> {
  const ids = new Set<string>();
  for (const s of await readSubmissions(out)) {
    if (s.scheduler !== scheduler) continue;
    for (const id of arrayJobIds(s)) ids.add(id);
  }
  if (ids.size === 0) return { jobIds: [], command: null, warning: null };
  const backend = getBackend(scheduler);
  const recorded = [...ids];
  const argv = backend.statusQueryArgv(recorded);
  const outcome = await runSchedulerCommand(argv, opts);
  if (outcome.kind !== "ok") {
    // LSF's bjobs exits 255 when one id is gone and still lists the others: read them.
    if (outcome.kind === "failed" && emptyQueueAnswer(outcome.stderr + outcome.stdout)) return { jobIds: live(backend.parseStatus(outcome.stdout), recorded), command: argv, warning: null };
    const why = outcome.kind === "failed" ? `exit ${outcome.exitCode ?? outcome.signal}: ${outcome.stderr.trim().split("\n").slice(-1)[0] ?? ""}` : outcome.kind;
    return {
      jobIds: [],
      command: argv,
      warning: `--array-throttle: could not ask ${argv[0]} which earlier arrays of this study are still queued (${why}); this submission does not wait for them, so the study may run more than the throttle while they run`,
    };
  }
  return { jobIds: live(backend.parseStatus(outcome.stdout), recorded), command: argv, warning: null };
}

/** The recorded ids of which the scheduler lists an element pending or running. */
function live(states: TaskSchedulerState[], recorded: string[]): string[] {
  const seqs = new Set<string>();
  for (const st of states) if (st.state === "pending" || st.state === "running") seqs.add(sequence(st.jobId));
  return recorded.filter((id) => seqs.has(sequence(id)));
}

/** `12`, `48[].server`, `1235.pbs01` -> `12` / `48` / `1235`. */
function sequence(jobId: string): string {
  return /^(\d+)/.exec(jobId)?.[1] ?? jobId;
}
