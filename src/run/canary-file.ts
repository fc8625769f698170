import fs, { constants as fsConstants } from "node:fs";
import path from "node:path";
import { canaryDir, canaryVerdictPath } from "../layout.js";
import { canaryVerdict, describeCanaryStop, isEnvironmentFailure, type CanaryOutcome } from "../failures/canary.js";
import { assertRealDirs, assertWritableFile, mkdirConfined } from "../util/confined-fs.js";
import { writeJsonAtomicSync } from "../util/atomic-write.js";

/**
 * The canary of a submission's array tasks, on the shared filesystem: the first K subjects to
 * finish each take a slot (`slot-<n>.json`, created exclusively, so two tasks never share one);
 * when all K slots hold a SYSTEM failure, `verdict.json` is written, and every later task of the
 * submission reads it first and exits at once without running (not a failure). A new submission
 * has its own folder, so fixing the environment and resubmitting starts afresh.
 */

export interface CanaryVerdictFile {
  kind: "cst-batch-canary-verdict";
  submission_id: string;
  written_at: string;
  first: CanaryOutcome[];
  message: string;
  next_step: string;
  /** A local run's verdict: the subjects it did not start. */
  not_run?: string[];
}

/** The canary folder of local runs (a submission id is a timestamp, never this). */
export const LOCAL_CANARY_ID = "local";

/** The stop verdict of this submission, if any (an unreadable one counts as none). */
export function readCanaryStop(out: string, submissionId: string): CanaryVerdictFile | null {
  try {
    const v = JSON.parse(fs.readFileSync(canaryVerdictPath(out, submissionId), "utf8")) as CanaryVerdictFile;
    return v.kind === "cst-batch-canary-verdict" ? v : null;
  } catch {
    return null;
  }
}

function readSlots(dir: string, k: number): CanaryOutcome[] {
  const slots: CanaryOutcome[] = [];
  for (let n = 1; n <= k; n++) {
    try {
      slots.push(JSON.parse(fs.readFileSync(path.join(dir, `slot-${n}.json`), "utf8")) as CanaryOutcome);
    } catch {
      break;
    }
  }
  return slots;
}

const SLOT_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

/** Create slot `n` exclusively with `text`: false when another task holds it. */
function takeSlot(dir: string, n: number, text: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, `slot-${n}.json`), SLOT_FLAGS, 0o666);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** The canary folder, made at submit time (`prepareCanaryDir`); made here for older submissions. */
export function prepareCanaryDir(out: string, submissionId: string): void {
  mkdirConfined(out, canaryDir(out, submissionId));
}

/**
 * Record a finished subject in the first free slot (if any of the K is free); once the K slots
 * say stop, write the verdict. Best effort: the canary never fails a run.
 *
 * Metadata calls (each a round trip on NFS/Lustre), for the typical subject past the canary:
 * one look at `slot-<K>.json` (slots are taken in order, so when the last exists all do: this
 * subject is not in the canary, and the K holders decide the verdict). A canary subject adds
 * the look at the folder (made at submit time) and its exclusive create; the slots are read only
 * when its own outcome is an environment failure (any other outcome among the first K means the
 * verdict can never be stop).
 */
export function noteCanaryOutcome(out: string, submissionId: string, k: number, outcome: CanaryOutcome): CanaryVerdictFile | null {
  if (k <= 0) return null;
  try {
    const dir = canaryDir(out, submissionId);
    if (fs.existsSync(path.join(dir, `slot-${k}.json`))) return null;
    // The folder (and the ones above it below --out) is a real one, never a planted link.
    assertRealDirs(out, dir);
    const text = JSON.stringify(outcome);
    let taken = false;
    for (let n = 1; n <= k && !taken; n++) {
      try {
        taken = takeSlot(dir, n, text);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT" || n !== 1) throw e;
        // A submission from before the folder was made at submit time.
        prepareCanaryDir(out, submissionId);
        taken = takeSlot(dir, n, text);
      }
    }
    if (!taken) return null;
    if (outcome.category === null || !isEnvironmentFailure(outcome.category)) return null;
    const verdict = canaryVerdict(readSlots(dir, k), k);
    if (verdict.kind !== "stop") return null;
    const texts = describeCanaryStop(verdict.first, 0, out);
    const file: CanaryVerdictFile = {
      kind: "cst-batch-canary-verdict",
      submission_id: submissionId,
      written_at: new Date().toISOString(),
      first: verdict.first,
      message: texts.message.replace(/, so 0 subject\(s\) were not started/, ", so the submission's remaining subjects do not start"),
      next_step: texts.nextStep,
    };
    writeJsonAtomicSync(canaryVerdictPath(out, submissionId), file);
    return file;
  } catch {
    return null;
  }
}

/**
 * A local run's verdict, for `status` (the run itself already stopped): written when the canary
 * stopped the run, removed when the next local run starts (it decides afresh). Best effort.
 */
export function writeLocalCanaryVerdict(out: string, stop: { first: CanaryOutcome[]; notRun: string[]; message: string; nextStep: string }): void {
  try {
    mkdirConfined(out, canaryDir(out, LOCAL_CANARY_ID));
    const file: CanaryVerdictFile = {
      kind: "cst-batch-canary-verdict",
      submission_id: LOCAL_CANARY_ID,
      written_at: new Date().toISOString(),
      first: stop.first,
      message: stop.message,
      next_step: stop.nextStep,
      not_run: stop.notRun,
    };
    writeJsonAtomicSync(canaryVerdictPath(out, LOCAL_CANARY_ID), file);
  } catch {
    // the run's own output already says it
  }
}

export function clearLocalCanaryVerdict(out: string): void {
  const file = canaryVerdictPath(out, LOCAL_CANARY_ID);
  try {
    assertWritableFile(out, file);
    fs.unlinkSync(file);
  } catch {
    // none, or not ours to remove
  }
}
