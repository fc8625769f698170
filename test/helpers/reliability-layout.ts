import path from "node:path";
import * as layout from "../../src/layout.js";

/**
 * Every path of the output folder that src/layout.ts defines, derived from its exports (so a path
 * added there is covered by the data-safety family without touching the test):
 * - a function is called with the values its parameter names ask for (out, task, key, subject,
 *   session) and each path it returns (a string, or an object of strings) is kept;
 * - a string constant (or a Set of them) is a name in the subject folder, unless a derived path
 *   already ends with it; ATTEMPT_FILE lives in WORK_DIR;
 * - an object of strings (OUTPUT_FILES) names files at the top of the output folder.
 * An export of another shape, or a parameter name not listed, throws: say what it is here.
 */

export interface LayoutTask {
  output_dir: string;
  key: string;
  subject: string;
  session: string | null;
}

export interface LayoutPath {
  /** The export (and key) it came from, e.g. `taskPaths.failed`. */
  from: string;
  /** Relative to the output folder, with "/" separators. */
  rel: string;
}

/** Names of a function's parameters, from its source (`function f(out, task)` or `(out) =>`). */
function parameterNames(fn: (...args: never[]) => unknown): string[] {
  const m = /^[^(]*\(([^)]*)\)/.exec(fn.toString());
  if (!m) throw new Error(`cannot read the parameters of layout.${fn.name}`);
  return m[1]!
    .split(",")
    .map((p) => p.trim().replace(/[=:].*$/, "").trim())
    .filter(Boolean);
}

/** Folders (inside the subject folder) a name constant lives in, when not the subject folder itself. */
const CONSTANT_FOLDER: Record<string, string> = { [layout.ATTEMPT_FILE]: layout.WORK_DIR };

export function layoutPaths(out: string, task: LayoutTask): LayoutPath[] {
  // planId: a plan id of the right form (another plan's files in plans/ are planted at; this study's own are `currentPlanPath`'s).
  const args: Record<string, unknown> = {
    out,
    task,
    key: task.key,
    subject: task.subject,
    session: task.session,
    taskDir: path.join(out, task.output_dir),
    planId: "0000000000000000",
    // the first of the input-hash cache's shards (src/plan/hash-cache.ts)
    shard: 0,
    submissionId: "20260101-000000-0000",
    planFile: layout.currentPlanPath(out),
    submissionFile: path.join(layout.submissionsDir(out), "00000000T000000Z-0000.json"),
  };
  const found: LayoutPath[] = [];
  const names: { from: string; name: string }[] = [];
  const add = (from: string, p: string): void => {
    const rel = path.isAbsolute(p) ? path.relative(out, p) : p;
    if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) throw new Error(`layout.${from} gives ${p}, not a path inside the output folder`);
    found.push({ from, rel: rel.split(path.sep).join("/") });
  };
  for (const [name, value] of Object.entries(layout) as [string, unknown][]) {
    if (typeof value === "function") {
      const params = parameterNames(value as (...a: never[]) => unknown);
      const unknown = params.filter((p) => !(p in args));
      if (unknown.length) throw new Error(`layout.${name}(${params.join(", ")}): the data-safety family does not know what to pass for ${unknown.join(", ")}`);
      const result = (value as (...a: unknown[]) => unknown)(...params.map((p) => args[p]));
      if (typeof result === "string") add(name, result);
      else if (result && typeof result === "object") {
        // `taskPaths(...).out` is the output folder itself (the root of the confinement), not a path in it.
        for (const [k, v] of Object.entries(result)) if (typeof v === "string" && v !== out) add(`${name}.${k}`, v);
      } else throw new Error(`layout.${name} returns ${typeof result}`);
    } else if (typeof value === "string") names.push({ from: name, name: value });
    else if (value instanceof Set) for (const v of value) names.push({ from: name, name: String(v) });
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) add(`${name}.${k}`, String(v));
    else throw new Error(`layout.${name} is a ${typeof value}: say where it lives in test/helpers/reliability-layout.ts`);
  }
  for (const { from, name } of names) {
    if (found.some((f) => path.posix.basename(f.rel) === name)) continue;
    add(from, path.join(task.output_dir, CONSTANT_FOLDER[name] ?? "", name));
  }
  const seen = new Set<string>();
  return found.filter((f) => (seen.has(f.rel) ? false : (seen.add(f.rel), true))).sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}
