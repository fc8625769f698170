import { CstError } from "../errors.js";
import { formatPbsDuration } from "../schedulers/duration.js";

/**
 * How the per-subject csttool timeout and the array task's walltime relate.
 *
 *   W  walltime of one array task (`--time`), seconds
 *   K  subjects per task (`--chunk-size`), run one after another
 *   T  per-subject timeout handed to `run-one --timeout-minutes`
 *   G  grace: after T, csttool gets SIGTERM, then SIGKILL G seconds later (the plan's grace_seconds)
 *   P  PROMOTION_ALLOWANCE_SECONDS: moving results in place / filing the failure record
 *   S  warning window: Slurm sends USR1 S seconds before W (`--signal=B:USR1@S`), run-one turns it
 *      into a TIMEOUT record; S = clamp(5% of W, 30 s, 300 s)
 *
 *   --time given:           T = floor((W - S - K*(G + P)) / K)   (error when T < MIN_TIMEOUT_SECONDS)
 *   --time not given:       W = K*(T + G + P) + S, T = the plan's timeout, rounded up to whole minutes
 *   both given explicitly:  T is used as is; when K*(T + G + P) + S > W a warning says that the
 *                           walltime, not T, will stop a long subject (USR1 -> TIMEOUT on Slurm;
 *                           the rest of its chunk then stays pending for the next submit).
 *
 * So each subject of a chunk gets the same full budget T, and under normal conditions the
 * walltime never cuts a subject short: the per-subject timeout fires first, with room left to
 * stop csttool and write the record.
 */
export const PROMOTION_ALLOWANCE_SECONDS = 15;
export const MIN_WARNING_SECONDS = 30;
export const MAX_WARNING_SECONDS = 300;
/** A derived per-subject timeout below this means the walltime is too short. */
export const MIN_TIMEOUT_SECONDS = 60;

export interface TimingInput {
  /** `--time` in seconds, or null when not given. */
  walltimeSeconds: number | null;
  /** `--timeout-minutes` when the user gave it explicitly (flag or profile), else null. */
  explicitTimeoutMinutes: number | null;
  /** The plan's run.timeout_minutes (used when neither is given). */
  planTimeoutMinutes: number;
  graceSeconds: number;
  chunkSize: number;
}

export interface Timing {
  walltimeSeconds: number;
  /** Per-subject timeout in minutes as written into the script (two decimals at most). */
  timeoutMinutes: number;
  warningSeconds: number;
  /** Where T came from. */
  timeoutSource: "walltime" | "explicit" | "plan";
  walltimeSource: "flag" | "derived";
  /** The formula with numbers, for the record and `--dry-run`. */
  formula: string;
  /** Things the user should hear (defaults taken, a walltime that may stop subjects). */
  notes: string[];
  warnings: string[];
}

/** S for a walltime: 5% of it, at least 30 s, at most 5 min. */
export function warningWindowSeconds(walltimeSeconds: number): number {
  return Math.min(MAX_WARNING_SECONDS, Math.max(MIN_WARNING_SECONDS, Math.floor(walltimeSeconds * 0.05)));
}

/** Minutes with at most two decimals, rounded down (never more than the budget). */
function toMinutes(seconds: number): number {
  return Math.floor((seconds / 60) * 100) / 100;
}

/** The smallest walltime (whole minutes) that leaves `minTimeout` seconds per subject. */
export function minimumWalltimeSeconds(chunkSize: number, graceSeconds: number, minTimeout = MIN_TIMEOUT_SECONDS): number {
  const work = chunkSize * (minTimeout + graceSeconds + PROMOTION_ALLOWANCE_SECONDS);
  let w = Math.ceil((work + MIN_WARNING_SECONDS) / 60) * 60;
  while (w - warningWindowSeconds(w) < work) w += 60;
  return w;
}

/** Derive the per-subject timeout from the walltime, or the walltime from the timeout. */
export function resolveTiming(input: TimingInput): Timing {
  const { walltimeSeconds: W, explicitTimeoutMinutes, planTimeoutMinutes, graceSeconds: G, chunkSize: K } = input;
  const P = PROMOTION_ALLOWANCE_SECONDS;
  if (!Number.isSafeInteger(K) || K < 1) throw new CstError("USAGE", `--chunk-size must be a whole number >= 1, found ${K}`);
  const notes: string[] = [];
  const warnings: string[] = [];

  if (W === null) {
    const T = explicitTimeoutMinutes ?? planTimeoutMinutes;
    const work = K * (Math.ceil(T * 60) + G + P);
    let w = Math.ceil((work + MIN_WARNING_SECONDS) / 60) * 60;
    while (w - warningWindowSeconds(w) < work) w += 60;
    const S = warningWindowSeconds(w);
    const formula = `W = K*(T + G + P) + S = ${K}*(${T * 60} + ${G} + ${P}) + ${S} s, rounded up to whole minutes = ${w} s`;
    notes.push(
      `no --time given: each array task asks for ${formatPbsDuration(w)} (${K} subject(s) x (timeout ${T} min + grace ${G} s + ${P} s for records) + ${S} s warning window)`,
    );
    return { walltimeSeconds: w, timeoutMinutes: T, warningSeconds: S, timeoutSource: explicitTimeoutMinutes !== null ? "explicit" : "plan", walltimeSource: "derived", formula, notes, warnings };
  }

  const S = warningWindowSeconds(W);
  if (explicitTimeoutMinutes !== null) {
    const T = explicitTimeoutMinutes;
    const need = K * (Math.ceil(T * 60) + G + P) + S;
    const formula = `K*(T + G + P) + S = ${K}*(${T * 60} + ${G} + ${P}) + ${S} = ${need} s; walltime W = ${W} s`;
    if (need > W) {
      warnings.push(
        `--timeout-minutes ${T} does not fit in --time ${formatPbsDuration(W)} for ${K} subject(s) per task (needs ${formatPbsDuration(need)}): ` +
          `a subject that runs long is stopped by the walltime instead (Slurm: USR1 ${S} s before the limit -> TIMEOUT record; LSF: USR2 at the limit -> TIMEOUT record; PBS/Torque: SIGTERM -> CANCELLED record), ` +
          `and the rest of its chunk stays pending for the next submit`,
      );
    }
    return { walltimeSeconds: W, timeoutMinutes: T, warningSeconds: S, timeoutSource: "explicit", walltimeSource: "flag", formula, notes, warnings };
  }

  const Tsec = Math.floor((W - S - K * (G + P)) / K);
  const formula = `T = (W - S - K*(G + P)) / K = (${W} - ${S} - ${K}*(${G} + ${P})) / ${K} = ${Tsec} s`;
  if (Tsec < MIN_TIMEOUT_SECONDS) {
    const min = minimumWalltimeSeconds(K, G);
    throw new CstError("USAGE", `--time ${formatPbsDuration(W)} is too short for ${K} subject(s) per task: it leaves ${Math.max(Tsec, 0)} s per subject for csttool (at least ${MIN_TIMEOUT_SECONDS} s needed)`, {
      details: [
        `per-subject timeout ${formula}`,
        `W walltime, K subjects per task, G grace ${G} s (--grace-seconds), P ${P} s to write the records, S ${S} s warning window before the limit`,
      ],
      hint: `give --time of at least ${formatPbsDuration(min)}${K > 1 ? ", or a smaller --chunk-size" : ""}`,
    });
  }
  const T = toMinutes(Tsec);
  notes.push(`per-subject timeout ${T} min, derived from --time: ${formula}`);
  return { walltimeSeconds: W, timeoutMinutes: T, warningSeconds: S, timeoutSource: "walltime", walltimeSource: "flag", formula, notes, warnings };
}
