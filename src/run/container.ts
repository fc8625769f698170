import path from "node:path";
import { CstError } from "../errors.js";
import { type PlanTask } from "../schemas/records.js";

/** csttool inside a container: `<runtime> exec --bind <dirs> <image> csttool ...`. */

/**
 * Prefix csttool's argv with `<runtime> exec --bind DIRS <image>`. The output folder and the
 * input folders are bound at the same paths (apptainer binds only $HOME, /tmp and $PWD by
 * default); a folder whose path holds `,` or `:` (the bind list separators) is an error naming it.
 */
export function containerArgv(argv: readonly string[], container: { runtime: string; image: string }, bindDirs: readonly string[]): string[] {
  const binds = [...new Set(bindDirs.map((d) => path.resolve(d)))].sort();
  // A bind list is `src[:dst],...`: a folder whose path holds ',' or ':' cannot be in it (plan refuses such paths first).
  const unbindable = binds.find((d) => /[,:]/.test(d));
  if (unbindable !== undefined) {
    throw new CstError("SYSTEM", `${container.runtime} cannot bind the folder ${unbindable}: its path holds "${/,/.test(unbindable) ? "," : ":"}", which a --bind list cannot express`, {
      hint: "rename or move that folder (or run without --container-image), then run the subject again",
    });
  }
  return [container.runtime, "exec", ...(binds.length > 0 ? ["--bind", binds.join(",")] : []), container.image, ...argv];
}

/** Folders a containerised csttool must see: the output folder and the task's input folders. */
export function taskBindDirs(out: string, task: PlanTask): string[] {
  const input = task.input;
  const dirs = [out];
  if (input.kind === "nifti") {
    for (const f of [input.nifti, input.bval, input.bvec, input.json]) if (f) dirs.push(path.dirname(f));
  } else {
    dirs.push(input.dicom_dir);
  }
  return dirs;
}
