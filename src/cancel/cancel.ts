import os from "node:os";
import path from "node:path";
import { CstError } from "../errors.js";
import { ownerProcessAlive, signalQuietly, sleep } from "../processes/procs.js";
import { cancelCommands, onlyGoneIds } from "../schedulers/cancel-batches.js";
import { getBackend } from "../schedulers/index.js";
import { runSchedulerCommand, type CommandOutcome } from "../schedulers/runner.js";
import type { SchedulerName } from "../schedulers/types.js";
import type { StatusRow } from "../status/derive.js";
import { jobSequence } from "../status/scheduler-view.js";
import { streamStatus, type StatusOptions, type StatusReport } from "../status/status.js";

/**
 * `cancel`: stop a study's queued and running tasks. Scheduler tasks: their array elements are
 * cancelled with the backend's cancel command (scancel / qdel / bkill of the recorded element ids,
 * in commands of bounded size: src/schedulers/cancel-batches.ts); a running run-one receives the
 * scheduler's SIGTERM and records CANCELLED, and the scheduler's CANCELLED verdict of a queued
 * element is recorded by the status that follows (write-back). A local run (`submit --scheduler local`): its process (the lock owner of its
 * running subjects, this host only) gets SIGTERM, stops taking new tasks, records the running
 * ones and those not started yet as CANCELLED, and collects. Running it again finds nothing in flight and does nothing.
 */
export interface CancelRequest {
  out: string;
  /** `sub-01`, `01`, `sub-01_ses-02` (a subject selects all its sessions); default every task. */
  subjects?: string[] | null;
  /** How long to wait for the cancelled tasks to leave the queue and record their end (default 60 s). */
  waitMs?: number;
  env?: NodeJS.ProcessEnv;
  commandTimeoutMs?: number;
}

export interface CancelTarget {
  key: string;
  /** State before the cancel. */
  state: "running" | "pending-in-queue";
  how: "scheduler" | "local";
  /** Element id (`12_3`) or `pid 4711 on host`. */
  id: string;
}

export interface CancelResult {
  targets: CancelTarget[];
  commands: Array<{ argv: string[]; outcome: CommandOutcome["kind"]; stderr: string }>;
  /** Local run processes signalled. */
  signalled: number[];
  /** Targets still queued or running when the wait ended. */
  stillInFlight: string[];
  /** Tasks of a cancelled local run that had not started: recorded CANCELLED by the run as it stopped. */
  notStarted: string[];
  /**
   * The study after the cancel (before it, when there was nothing to cancel): the whole overview
   * (totals, submissions, problems), and the rows of the targets and of `notStarted` only: the
   * study is read as a stream and its other rows are not kept (200,000 tasks; docs/scale.md).
   */
  after: StatusReport;
}

/** A study read as a stream: its overview, and the rows `keep` chose. */
async function readSome(out: string, opts: StatusOptions, keep: (row: StatusRow) => boolean): Promise<StatusReport> {
  const rows: StatusRow[] = [];
  const overview = await streamStatus(out, opts, (row) => {
    if (keep(row)) rows.push(row);
  });
  return { ...overview, rows };
}

function matchesSubject(row: StatusRow, wanted: readonly string[]): boolean {
  return wanted.some((w) => {
    const id = w.startsWith("sub-") ? w : `sub-${w}`;
    return id === row.subject || id === row.key;
  });
}

const inFlight = (r: StatusRow): boolean => r.state === "running" || r.state === "pending-in-queue";

export async function cancelStudy(req: CancelRequest): Promise<CancelResult> {
  const out = path.resolve(req.out);
  const statusOpts = { ...(req.env ? { env: req.env } : {}), ...(req.commandTimeoutMs ? { schedulerTimeoutMs: req.commandTimeoutMs } : {}) };
  // The first read keeps the in-flight rows of the subjects asked for, notes which of those
  // subjects exist, and keeps each task's attempt count (a local run's not-started tasks are
  // told by a count that grew): never the whole study as rows.
  const found = new Set<string>();
  const attemptsBefore = new Map<string, number>();
  const before = await readSome(out, statusOpts, (r) => {
    if (req.subjects) for (const s of req.subjects) if (!found.has(s) && matchesSubject(r, [s])) found.add(s);
    if (r.attempts > 0) attemptsBefore.set(r.key, r.attempts);
    return inFlight(r) && (!req.subjects || matchesSubject(r, req.subjects));
  });
  if (req.subjects) {
    const unknown = req.subjects.filter((s) => !found.has(s));
    if (unknown.length > 0) throw new CstError("USAGE", `--subjects: not in the plan: ${unknown.join(", ")}`, { hint: `see \`cst-batch status --out ${out} --all\`` });
  }
  const rows = before.rows;

  // Which scheduler each recorded job belongs to (by its sequence number).
  const schedulerOf = new Map<string, SchedulerName>();
  for (const s of before.submissions) if (s.scheduler !== "local") for (const j of s.jobIds) schedulerOf.set(jobSequence(j), s.scheduler as SchedulerName);

  const host = os.hostname();
  const targets: CancelTarget[] = [];
  const elements = new Map<SchedulerName, Set<string>>();
  const pids = new Map<number, string>();
  for (const r of rows) {
    const state = r.state as CancelTarget["state"];
    const owner = r.lockOwner;
    const jobId = owner?.jobId ?? r.jobId;
    const sched = jobId ? schedulerOf.get(jobSequence(jobId)) : undefined;
    if (jobId && sched) {
      let set = elements.get(sched);
      if (!set) elements.set(sched, (set = new Set()));
      set.add(jobId);
      targets.push({ key: r.key, state, how: "scheduler", id: jobId });
    } else if (owner && !owner.jobId && owner.host === host && (await ownerProcessAlive(owner.pid, owner.since))) {
      pids.set(owner.pid, owner.since);
      targets.push({ key: r.key, state, how: "local", id: `pid ${owner.pid} on ${owner.host}` });
    } else if (owner && !owner.jobId && owner.host !== host) {
      throw new CstError("USAGE", `${r.key} is run locally on ${owner.host} (pid ${owner.pid}); a local run can only be cancelled on its own host`, {
        hint: `run \`cst-batch cancel --out ${out}\` on ${owner.host}, or press Ctrl-C where the run was started`,
      });
    }
  }

  // Each scheduler's elements go in commands of bounded size (cancelCommands: a 200,000-element
  // argv would fail with E2BIG), sent in order; a failed one stops the cancel, and rerunning it
  // sends the earlier ones again, which is harmless.
  const commands: CancelResult["commands"] = [];
  const runOpts = { ...(req.env ? { env: req.env } : {}), ...(req.commandTimeoutMs ? { timeoutMs: req.commandTimeoutMs } : {}) };
  for (const [sched, ids] of elements) {
    const backend = getBackend(sched);
    const argvs = cancelCommands(backend, [...ids]);
    for (const [i, argv] of argvs.entries()) {
      const outcome = await runSchedulerCommand(argv, runOpts);
      // A non-zero exit that only says some ids had ended already (a task finished since status read it) stopped the rest.
      const gone = onlyGoneIds(backend, outcome);
      const answer = outcome.kind === "missing" ? `${outcome.command}: not found` : (outcome.stderr.trim() || outcome.stdout.trim());
      commands.push({ argv, outcome: gone ? "ok" : outcome.kind, stderr: outcome.kind === "ok" ? outcome.stderr.trim() : answer });
      if (outcome.kind !== "ok" && !gone) {
        throw new CstError("SCHEDULER", `${argv[0]} failed: ${outcome.kind === "missing" ? `${outcome.command} not found on PATH` : commands.at(-1)!.stderr || outcome.kind}`, {
          ...(argvs.length > 1 ? { details: [`this was cancel command ${i + 1} of ${argvs.length} for ${sched} (${ids.size} elements in all); the ${i} before it were sent`] } : {}),
          hint: `check that the scheduler can be reached from here, then run \`cst-batch cancel --out ${out}\` again (it is safe to repeat)`,
        });
      }
    }
  }
  // A local run: SIGTERM makes it stop taking tasks and record its running subjects as CANCELLED.
  for (const pid of pids.keys()) signalQuietly(pid, "SIGTERM");

  // Wait for the cancelled tasks to leave the queue and record their end, then record what only
  // the scheduler knows (a queued element's CANCELLED) through status's write-back.
  const deadline = Date.now() + (req.waitMs ?? 60_000);
  const keys = new Set(targets.map((t) => t.key));
  const isNotStarted = (r: StatusRow): boolean => pids.size > 0 && !keys.has(r.key) && r.state === "failed" && r.category === "CANCELLED" && r.attempts > (attemptsBefore.get(r.key) ?? 0);
  let after = before;
  while (targets.length > 0) {
    await sleep(1000);
    // A zombie (exited, not yet reaped by its parent) counts as gone.
    let localAlive = false;
    for (const [pid, since] of pids) if (await ownerProcessAlive(pid, since)) localAlive = true;
    after = await readSome(out, statusOpts, (r) => keys.has(r.key) || isNotStarted(r));
    const left = after.rows.filter((r) => keys.has(r.key) && inFlight(r));
    if ((left.length === 0 && !localAlive) || Date.now() > deadline) break;
  }
  if (targets.length === 0) after = before;
  const stillInFlight = after.rows.filter((r) => keys.has(r.key) && inFlight(r)).map((r) => r.key);
  const notStarted = after === before ? [] : after.rows.filter(isNotStarted).map((r) => r.key);
  return { targets, commands, signalled: [...pids.keys()], stillInFlight, notStarted, after };
}
