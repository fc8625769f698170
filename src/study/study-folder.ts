import fs from "node:fs";
import path from "node:path";
import { CstError } from "../errors.js";
import { planFilePath, plansDir, STATE_DIR } from "../layout.js";

/**
 * "The folder given is the study": which study folder a command works in. The folder the user
 * names (`--out DIR`, or the folder whose `.cst-batch/` holds the `--plan` file) is the study; the
 * plan's recorded `out_dir` (where it was planned) is only checked against it:
 *
 *   same folder (also through a symlink or bind mount)           -> that folder
 *   the recorded folder still exists and holds this very plan     -> the plan belongs to another
 *     (`.cst-batch/plans/<plan_id>.jsonl`)                           study: refused, both named
 *   otherwise (the recorded folder is gone, or does not hold it)  -> the study was moved: the
 *                                                                    folder where it is now
 *
 * Every path inside the study (subject folders, logs, the DICOM series link, csttool's --out,
 * submissions, events) is then derived from the returned folder, never from `out_dir`.
 */

/** What the check needs of a plan: where it was planned and its id. */
export interface PlanOrigin {
  out_dir: string;
  plan_id: string;
}

/**
 * The study folder a plan file sits in: `<S>/.cst-batch/plan.jsonl` (`plan.json` before schema 2)
 * or `<S>/.cst-batch/plans/<id>.jsonl` (`.json`) -> S; null for a plan file anywhere else.
 */
export function studyDirOfPlanFile(planFile: string): string | null {
  const file = path.resolve(planFile);
  const parent = path.dirname(file);
  if (path.basename(parent) === STATE_DIR) return path.dirname(parent);
  const grand = path.dirname(parent);
  if (path.basename(parent) === "plans" && path.basename(grand) === STATE_DIR) return path.dirname(grand);
  return null;
}

/**
 * The study folder to work in when the user named `given` and `planFile` holds the plan: `given`
 * (resolved), after checking the plan belongs to it. A plan planned in another study folder that
 * still holds it is a CstError (exit 2) naming both folders.
 */
export function resolveStudyDir(given: string, plan: PlanOrigin, planFile: string): string {
  const study = path.resolve(given);
  const recorded = path.resolve(plan.out_dir);
  if (study === recorded || sameFolder(path.join(study, STATE_DIR), path.join(recorded, STATE_DIR))) return study;
  const recordedPlan = [planFilePath(recorded, plan.plan_id), path.join(plansDir(recorded), `${plan.plan_id}.json`)].find((f) => fs.existsSync(f));
  if (recordedPlan === undefined) return study; // moved (or the old folder no longer holds it)
  throw new CstError("WRONG_STUDY", `the plan ${path.resolve(planFile)} belongs to the study ${recorded}, not to ${study}`, {
    details: [
      `folder given:           ${study}`,
      `plan planned for:       ${recorded} (which still holds it: ${recordedPlan})`,
    ],
    hint:
      `to work on ${recorded}, pass that folder (--out ${recorded}); to make ${study} a study of its own, ` +
      `plan it there (\`cst-batch plan --out ${study}\` with the same inputs: subjects whose results are already in it stay done)`,
  });
}

/**
 * The study folder of a plan given by its file (run-one, submit, local mode): the folder whose
 * `.cst-batch/` holds the file, checked as `resolveStudyDir` does; for a plan file outside any
 * `.cst-batch/` folder (a hand-made or copied plan), the recorded `out_dir`.
 */
export function studyDirOfPlan(planFile: string, plan: PlanOrigin): string {
  const given = studyDirOfPlanFile(planFile);
  return given === null ? path.resolve(plan.out_dir) : resolveStudyDir(given, plan, planFile);
}

/** Whether two paths name the same existing folder (device and inode). */
function sameFolder(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}
