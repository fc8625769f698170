import path from "node:path";
import { taskKey } from "../layout.js";
import { problem, type Problem } from "./problems.js";
import type { SourceEntry } from "./source.js";

/**
 * With `--container`, run-one binds `--out` and every input folder into the container at the
 * same path (`<runtime> exec --bind a,b,c`). Apptainer/Singularity separate binds with `,` and
 * source from destination with `:`, and have no way to escape either, so a folder whose path
 * holds one cannot be bound: csttool would not see it. Found at plan time, never dropped silently.
 */

/** The characters a `--bind` list cannot carry inside a path. */
export const BIND_UNSAFE = /[,:]/;

/** Individual problems before the rest are summed up in one. */
const MAX_LISTED = 20;

function unsafeChars(dir: string): string {
  return [...new Set(dir.match(/[,:]/g) ?? [])].map((c) => `"${c}"`).join(" and ");
}

/** The folders run-one binds for one entry (as `taskBindDirs` in src/run/run-one.ts computes them). */
function bindDirsOf(e: SourceEntry): string[] {
  if (e.input.kind === "dicom") return [path.resolve(e.input.dicom_dir)];
  return [e.input.nifti, e.input.bval, e.input.bvec, e.input.json].filter((f): f is string => !!f).map((f) => path.resolve(path.dirname(f)));
}

/** Problems for `--out` and input folders that a container `--bind` list cannot express. */
export function checkContainerBinds(out: string, entries: readonly SourceEntry[], runtime: string): Problem[] {
  const problems: Problem[] = [];
  const fix = `move or rename the folder so its path holds neither "," nor ":" (${runtime} cannot bind it otherwise), or run without --container`;
  const outDir = path.resolve(out);
  if (BIND_UNSAFE.test(outDir)) {
    problems.push(problem("error", "output", `--out ${outDir} holds ${unsafeChars(outDir)}, which ${runtime}'s --bind list cannot express; the containerised csttool could not write its results`, fix));
  }
  const seen = new Set<string>();
  let more = 0;
  for (const e of entries) {
    for (const dir of bindDirsOf(e)) {
      if (seen.has(dir)) continue;
      seen.add(dir);
      if (!BIND_UNSAFE.test(dir)) continue;
      if (problems.length >= MAX_LISTED) {
        more++;
        continue;
      }
      problems.push(
        problem("error", "input", `the input folder ${dir} (${taskKey(e.subject, e.session)}) holds ${unsafeChars(dir)}, which ${runtime}'s --bind list cannot express; the containerised csttool could not read it`, fix, {
          subject: e.subject,
          session: e.session,
        }),
      );
    }
  }
  if (more > 0) problems.push(problem("error", "input", `${more} more input folder(s) hold "," or ":" and cannot be bound into the container`, fix));
  return problems;
}
