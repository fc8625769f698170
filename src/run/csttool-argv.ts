import { csttoolOutDir, dicomLinkDir } from "../layout.js";
import { idLabel } from "../plan/ids.js";
import { optionsToFlags } from "../schemas/options.js";
import type { PlanTask } from "../schemas/plan.js";

/**
 * csttool's argv for a task, from its inputs and options and the layout of the study folder
 * where it is now (`taskDir`): `--out` into `_work/csttool`, and `--dicom` at the link folder in
 * `_work/` when one series of the DICOM folder is linked for csttool (a task with a series_uid).
 * The plan stores no argv; options become flags only through `optionsToFlags`.
 */
export function csttoolArgv(executable: string, task: Pick<PlanTask, "input" | "subject" | "session" | "options">, taskDir: string): string[] {
  const argv = [executable, "run"];
  const input = task.input;
  if (input.kind === "nifti") argv.push("--nifti", input.nifti);
  else argv.push("--dicom", linkedSeries(task) ? dicomLinkDir(taskDir) : input.dicom_dir);
  argv.push("--out", csttoolOutDir(taskDir), "--subject-id", idLabel(task.subject));
  if (task.session !== null) argv.push("--session-id", idLabel(task.session));
  argv.push(...optionsToFlags(task.options));
  return argv;
}

/** Whether run-one links the task's DICOM series into `_work/` for csttool (only one series of the folder is meant). */
export function linkedSeries(task: Pick<PlanTask, "input">): boolean {
  return task.input.kind === "dicom" && task.input.series_uid !== null;
}
