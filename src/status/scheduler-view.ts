import { getBackend } from "../schedulers/index.js";
import { runSchedulerCommand, type CommandOutcome, type RunCommandOptions } from "../schedulers/runner.js";
import type { SchedulerName, TaskSchedulerState } from "../schedulers/types.js";
import type { Submission } from "../schemas/study-records.js";
import { arrayJobIds } from "./submissions.js";

/** Where the scheduler's view came from. */
export type ViewSource = "sacct" | "squeue" | "qstat" | "qacct" | "bjobs" | "none";

/** The scheduler's view of every array element of the submissions asked about. */
export interface SchedulerView {
  /** Per scheduler queried: which command answered, or why none did. */
  sources: Array<{ scheduler: SchedulerName; source: ViewSource; command: string[] | null; note: string | null }>;
  /** Element states by `elementKey(jobId, arrayIndex)`. */
  elements: Map<string, TaskSchedulerState>;
  /** Commands run (for tests and `--json`). */
  commands: string[][];
  /** Sequences (`12`) of the jobs the scheduler listed at least one element of. */
  jobs: Set<string>;
}

/** Run one scheduler command; tests swap it. */
export type CommandRunner = (argv: readonly string[], opts?: RunCommandOptions) => Promise<CommandOutcome>;

export interface ViewOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  run?: CommandRunner;
  /** Job ids per command at most (a very long -j list is split); default 500. */
  idsPerCommand?: number;
}

/** The numeric sequence of a job id: `12`, `12_3`, `48[].server`, `48[3].server`, `1235.pbs01` -> `12`/`48`/`1235`. */
export function jobSequence(jobId: string): string {
  return /^(\d+)/.exec(jobId)?.[1] ?? jobId;
}

/** Key of one array element (`12:3`); a plain (non-array) job is `12:-`. */
export function elementKey(jobId: string, arrayIndex: number | null): string {
  return `${jobSequence(jobId)}:${arrayIndex ?? "-"}`;
}

function describeOutcome(argv: readonly string[], o: CommandOutcome): string {
  switch (o.kind) {
    case "ok":
      return "ok";
    case "missing":
      return `${argv[0]} is not on PATH`;
    case "timeout":
      return `${argv[0]} did not answer within ${Math.round(o.timeoutMs / 1000)} s`;
    case "failed":
      return `${argv[0]} failed (${o.exitCode ?? o.signal}): ${o.stderr.trim().split("\n").slice(-2).join(" ") || "no message"}`;
  }
}

/**
 * squeue/qstat answer "Invalid job id" / "Unknown Job Id" when every id has left the queue: an
 * empty answer. LSF's bjobs says `Job <123> is not found` (exit 255) for each id it no longer
 * knows and still lists the others on stdout (read by the caller).
 */
function emptyQueueAnswer(o: CommandOutcome): boolean {
  return o.kind === "failed" && /invalid job id|unknown job id|job has finished|job <\d+> is not found/i.test(o.stderr + o.stdout);
}

function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Ask each scheduler about every array job of the given submissions, batched: one command for
 * all of them (split only past `idsPerCommand` ids), never one per task. Slurm: `sacct -P` when
 * accounting answers, else `squeue -t all` (finished jobs stay there for MinJobAge only);
 * PBS Pro / Torque: `qstat -f` text. A scheduler that cannot be asked is reported in `sources`,
 * and status falls back to the output folder's records alone.
 */
export async function querySchedulerView(submissions: readonly Submission[], opts: ViewOptions = {}): Promise<SchedulerView> {
  const run = opts.run ?? runSchedulerCommand;
  const runOpts: RunCommandOptions = {
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    timeoutMs: opts.timeoutMs ?? 30_000,
  };
  const view: SchedulerView = { sources: [], elements: new Map(), commands: [], jobs: new Set() };
  const byScheduler = new Map<SchedulerName, Set<string>>();
  for (const s of submissions) {
    if (s.scheduler === "local") continue;
    const ids = byScheduler.get(s.scheduler) ?? new Set<string>();
    for (const id of arrayJobIds(s)) ids.add(id);
    byScheduler.set(s.scheduler, ids);
  }
  const size = opts.idsPerCommand ?? 500;
  for (const [scheduler, idSet] of byScheduler) {
    const ids = [...idSet];
    if (ids.length === 0) continue;
    const backend = getBackend(scheduler);
    const add = (states: TaskSchedulerState[]): void => {
      for (const st of states) {
        const key = elementKey(st.jobId, st.arrayIndex);
        const seen = view.elements.get(key);
        // sacct keeps listing a started element in the array's pending remainder (`12_[1,3%1]`): the element's own row wins.
        if (seen && st.state === "pending" && seen.state !== "pending") continue;
        st.peakSource = backend.peakSource;
        view.elements.set(key, st);
        view.jobs.add(jobSequence(st.jobId));
      }
    };
    const exec = async (argv: string[]): Promise<CommandOutcome> => {
      view.commands.push(argv);
      return run(argv, runOpts);
    };

    if (backend.accountingComplementsQueue && backend.accountingQueryArgv && backend.parseAccounting) {
      // Grid Engine: qacct knows finished tasks only; one qstat for the live ones, then one qacct per job.
      const note = await queueThenAccounting(ids, backend, exec, add);
      view.sources.push(note === null ? { scheduler, source: "qacct", command: backend.statusQueryArgv(ids), note: null } : { scheduler, source: "none", command: null, note });
      continue;
    }
    let done = false;
    if (backend.accountingQueryArgv && backend.parseAccounting) {
      const groups = chunked(ids, size);
      const answers: CommandOutcome[] = [];
      let note: string | null = null;
      for (const g of groups) {
        const argv = backend.accountingQueryArgv(g);
        const o = await exec(argv);
        if (o.kind !== "ok") {
          note = `${describeOutcome(argv, o)}; using ${backend.statusQueryArgv([])[0]} instead`;
          break;
        }
        answers.push(o);
      }
      if (answers.length === groups.length) {
        for (const a of answers) if (a.kind === "ok") add(backend.parseAccounting(a.stdout));
        view.sources.push({ scheduler, source: "sacct", command: backend.accountingQueryArgv(ids), note: null });
        await overlayRequeued(view, backend.statusQueryArgv.bind(backend), backend.parseStatus.bind(backend), exec, size);
        done = true;
      } else if (note) {
        view.sources.push({ scheduler, source: "none", command: null, note });
      }
    }
    if (done) continue;
    let note: string | null = null;
    for (const g of chunked(ids, size)) {
      const argv = backend.statusQueryArgv(g);
      const o = await exec(argv);
      if (o.kind === "ok") add(backend.parseStatus(o.stdout));
      else if (emptyQueueAnswer(o)) add(backend.parseStatus(o.kind === "failed" ? o.stdout : ""));
      else note = describeOutcome(argv, o);
    }
    const source: ViewSource = scheduler === "slurm" ? "squeue" : scheduler === "lsf" ? "bjobs" : "qstat";
    const prior = view.sources.findIndex((s) => s.scheduler === scheduler);
    const entry = note
      ? { scheduler, source: "none" as const, command: null, note }
      : { scheduler, source, command: backend.statusQueryArgv(ids), note: prior >= 0 ? view.sources[prior]!.note : null };
    if (prior >= 0) view.sources[prior] = entry;
    else view.sources.push(entry);
  }
  return view;
}

/** The element's state for a placement (a one-element PBS Pro "array" is a plain job: index null). */
export function elementState(view: SchedulerView, jobId: string, arrayIndex: number, elementCount: number): TaskSchedulerState | null {
  return view.elements.get(elementKey(jobId, arrayIndex)) ?? (elementCount === 1 ? (view.elements.get(elementKey(jobId, null)) ?? null) : null);
}

/**
 * Accounting lags a requeue: right after a node failure (or a preemption) sacct can still say
 * NODE_FAIL / PREEMPTED for an element that the scheduler has already queued again. Ask the
 * live queue about those jobs only (one command, none when no element ended that way) and take
 * its pending / running state: a requeued task is shown by what the scheduler will do with it.
 */
async function overlayRequeued(
  view: SchedulerView,
  statusArgv: (ids: string[]) => string[],
  parse: (stdout: string) => TaskSchedulerState[],
  exec: (argv: string[]) => Promise<CommandOutcome>,
  size: number,
): Promise<void> {
  const ids = new Set<string>();
  for (const st of view.elements.values()) if (st.state === "node_fail" || st.state === "preempted") ids.add(jobSequence(st.jobId));
  if (ids.size === 0) return;
  for (const g of chunked([...ids], size)) {
    const o = await exec(statusArgv(g));
    if (o.kind !== "ok") continue;
    for (const live of parse(o.stdout)) {
      const key = elementKey(live.jobId, live.arrayIndex);
      const seen = view.elements.get(key);
      if (seen && (seen.state === "node_fail" || seen.state === "preempted") && (live.state === "pending" || live.state === "running")) {
        view.elements.set(key, { ...live, reason: live.reason ?? `requeued after ${seen.rawState}` });
      }
    }
  }
}

/** Live queue once, then accounting per `accountingIdsPerCommand` jobs (a finished task's accounting wins). Null, or why it failed. */
async function queueThenAccounting(
  ids: string[],
  backend: ReturnType<typeof getBackend>,
  exec: (argv: string[]) => Promise<CommandOutcome>,
  add: (states: TaskSchedulerState[]) => void,
): Promise<string | null> {
  const live = backend.statusQueryArgv(ids);
  const o = await exec(live);
  if (o.kind !== "ok") return describeOutcome(live, o);
  add(backend.parseStatus(o.stdout));
  for (const g of chunked(ids, backend.accountingIdsPerCommand ?? ids.length)) {
    const argv = backend.accountingQueryArgv!(g);
    const a = await exec(argv);
    // qacct: "error: job id 12 not found" while no task of it has finished yet.
    if (a.kind === "failed" && /job id \S+ not found|no jobs running since startup/i.test(a.stderr + a.stdout)) continue;
    if (a.kind !== "ok") return describeOutcome(argv, a);
    add(backend.parseAccounting!(a.stdout));
  }
  return null;
}
