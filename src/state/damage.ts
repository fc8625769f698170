import { DONE_FILE } from "../layout.js";

/**
 * How a damaged state file is reported, in one place: its path, why it cannot be read, and what
 * becomes of it. status, collect and submit (local and batch) all list these `problems` (each as
 * a warning line, and under `problems` in --json); run-one does what they announce.
 */

/** The suffix run-one gives a damaged `_done.json` when it moves it aside before rerunning the subject. */
export const CORRUPT_SUFFIX = ".corrupt-";

/** A `_done.json` that cannot be read (or is of a newer schema): never counts as done. */
export function damagedDoneProblem(file: string, reason: string): string {
  return `${file}: damaged (${reason}); not counted as done: the subject runs again, and that run moves this file aside to ${DONE_FILE}${CORRUPT_SUFFIX}<time>`;
}

/** A failed attempt's `attempt.json` that cannot be read: the attempt is not counted, the file is left as it is. */
export function damagedAttemptProblem(file: string, reason: string): string {
  return `${file}: damaged (${reason}); this attempt is not counted (the file is left as it is)`;
}
