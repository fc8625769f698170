import type { TaskSchedulerState } from "../schedulers/types.js";
import type { FailureCategory } from "./catalogue.js";
import { failureCategoryForState } from "./scheduler-states.js";

/**
 * When the scheduler's word on how a job ended decides (or corrects) a subject's category. The
 * one place for these rules; status, collect and resubmit read them through src/status/derive.ts.
 */

/** Categories run-one records from what it saw itself (a signal, a killed child): the scheduler may know why. */
export const CORRECTABLE_CATEGORIES: ReadonlySet<FailureCategory> = new Set(["CANCELLED", "KILLED"]);

/** Causes only the scheduler knows; they replace a correctable category. */
export const SCHEDULER_CAUSES: ReadonlySet<FailureCategory> = new Set(["TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"]);

/** Causes after which the scheduler itself runs the job again (requeue): not a failure while it does. */
export const REQUEUE_CAUSES: ReadonlySet<FailureCategory> = new Set(["NODE_FAIL", "PREEMPTED"]);

function atLeast(used: number | null | undefined, limit: number | null | undefined): boolean {
  return used !== null && used !== undefined && limit !== null && limit !== undefined && limit > 0 && used >= limit;
}

/**
 * The category a scheduler-side end implies, from the state and the job's own figures:
 *   - killed by a signal (Slurm FAILED 0:9, PBS/Torque exit 128+N / 256+N) with the peak memory
 *     at or above the request: OUT_OF_MEMORY (Slurm `JobAcctGatherParams=OverMemoryKill` kills
 *     with SIGKILL and says only FAILED 0:9; Torque/PBS kill at the mem limit with a signal);
 *   - killed by a signal after using the whole walltime: TIMEOUT (Torque's 271 = SIGTERM at the
 *     walltime when it writes no -11);
 *   - otherwise killed: KILLED; a plain FAILED (non-zero exit, no signal): SYSTEM (cst-batch
 *     itself could not run, as a run of the pipeline always leaves a record);
 *   - any other end: the catalogue's state (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, CANCELLED).
 * Null: not a failure (pending, running, completed, unknown).
 */
export function categoryOfSchedulerEnd(sched: TaskSchedulerState): FailureCategory | null {
  const bySignal = sched.state === "killed" || (sched.state === "failed" && sched.signal !== null);
  if (bySignal) {
    const memKill = sched.state === "killed" || sched.signal === 9;
    if (memKill && atLeast(sched.maxRssKb, sched.requestedMemKb)) return "OUT_OF_MEMORY";
    if (atLeast(sched.elapsedSeconds, sched.requestedSeconds)) return "TIMEOUT";
    return "KILLED";
  }
  if (sched.state === "failed") return "SYSTEM";
  return failureCategoryForState(sched.state);
}

/**
 * The scheduler's correction of a category run-one recorded: its cause when run-one said
 * CANCELLED or KILLED (it saw a SIGTERM or a dead child) and the scheduler says TIMEOUT,
 * OUT_OF_MEMORY, NODE_FAIL or PREEMPTED; null when the record stands.
 */
export function schedulerCorrection(recorded: FailureCategory, sched: TaskSchedulerState): FailureCategory | null {
  if (!CORRECTABLE_CATEGORIES.has(recorded)) return null;
  const cat = categoryOfSchedulerEnd(sched);
  return cat !== null && SCHEDULER_CAUSES.has(cat) && cat !== recorded ? cat : null;
}

/** The scheduler still holds the job to run (pending or running): a requeued element is not finished. */
export function schedulerWillRun(sched: TaskSchedulerState | null): boolean {
  return sched !== null && (sched.state === "pending" || sched.state === "running");
}

/** What Slurm says about a job at the moment run-one is told to stop (`scontrol show job -o`). */
export interface StopContext {
  /** `JobState=` word: RUNNING, REQUEUED, PENDING, TIMEOUT, NODE_FAIL, PREEMPTED, CANCELLED, ... */
  jobState: string;
  /** `Reason=` (None, NodeDown, BeginTime, Preemption, ...). */
  reason: string | null;
  /** `Restarts=`: how often the scheduler requeued the job so far. */
  restarts: number | null;
}

/**
 * Why the scheduler stopped run-one, when a plain stop signal (SIGTERM: CANCELLED) hides it:
 *   - the job is requeued (REQUEUED / PENDING again, or more restarts than when run-one started,
 *     `SLURM_RESTART_COUNT`): PREEMPTED when the reason says preemption, else NODE_FAIL; the
 *     scheduler runs it again, so this is "requeued by the scheduler", not a failure of the subject;
 *   - the job ended NODE_FAIL / PREEMPTED / TIMEOUT (the walltime without a warning signal), by
 *     its state or, while it is COMPLETING, by its reason (NodeDown, TimeLimit);
 *   - anything else (CANCELLED by scancel, still RUNNING, not known): null, the signal decides.
 */
export function stopCategory(ctx: StopContext, restartsAtStart: number): { category: FailureCategory; requeued: boolean } | null {
  const state = ctx.jobState.toUpperCase().replace(/\+$/, "");
  const preempt = state === "PREEMPTED" || /preempt/i.test(ctx.reason ?? "");
  const requeued = ["REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "PENDING"].includes(state) || (ctx.restarts !== null && ctx.restarts > restartsAtStart);
  if (requeued) return { category: preempt ? "PREEMPTED" : "NODE_FAIL", requeued: true };
  // While the job's processes are being signalled, scontrol says JobState=COMPLETING and only the
  // reason tells why (22.05, recorded on the test Slurm: `Reason=TimeLimit` at the walltime).
  const reason = ctx.reason ?? "";
  if (state === "NODE_FAIL" || /^Node(Down|Fail)/i.test(reason)) return { category: "NODE_FAIL", requeued: false };
  if (preempt) return { category: "PREEMPTED", requeued: false };
  if (state === "TIMEOUT" || state === "DEADLINE" || /^TimeLimit$/i.test(reason)) return { category: "TIMEOUT", requeued: false };
  return null;
}
