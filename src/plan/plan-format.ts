import path from "node:path";
import { relativeTaskDir } from "../layout.js";
import type { PlanHeader, PlanTask, PlanTaskLine, TaskInput } from "../schemas/plan.js";
import { CompactNiftiInput } from "./compact-input.js";

/**
 * The schema-2 plan's lines, one pure codec: a task line keeps what only the plan knows (inputs,
 * options, hashes), input paths below the header's `input_root` relative to it; everything the
 * layout derives (the task folder, logs, csttool's argv, the DICOM link folder) is left out.
 */

/** The folder task lines' input paths are relative to: the BIDS folder, or the manifest's folder. */
export function inputRootOf(source: PlanHeader["source"]): string {
  return source.type === "bids" ? source.bids_dir : path.dirname(source.manifest_path);
}

function mapInputPaths(input: TaskInput, map: (p: string) => string): TaskInput {
  if (input.kind === "dicom") return { ...input, dicom_dir: map(input.dicom_dir) };
  return {
    kind: "nifti",
    nifti: map(input.nifti),
    bval: map(input.bval),
    bvec: map(input.bvec),
    json: input.json === null ? null : map(input.json),
    entities: input.entities,
    identity: input.identity.map((f) => ({ path: map(f.path), size: f.size, mtime_ms: f.mtime_ms })),
  };
}

/** `root/a/b` -> `a/b`; a path elsewhere stays absolute. Input paths are absolute (the planner resolves them). */
function relativeTo(root: string): (p: string) => string {
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return (p) => {
    if (!path.isAbsolute(p)) throw new Error(`internal: a planned input path is not absolute: ${p}`);
    return root !== "" && p.startsWith(prefix) && p.length > prefix.length ? p.slice(prefix.length) : p;
  };
}

function absoluteFrom(root: string): (p: string) => string {
  return (p) => (path.isAbsolute(p) || root === "" ? p : path.join(root, p));
}

/** A task's line (no newline): fixed key order, so the same task always gives the same bytes. */
export function encodeTaskLine(task: PlanTaskLine, inputRoot: string): string {
  const line: PlanTaskLine = {
    index: task.index,
    key: task.key,
    subject: task.subject,
    session: task.session,
    input: mapInputPaths(task.input, relativeTo(inputRoot)),
    options: task.options,
    config_hash: task.config_hash,
  };
  return JSON.stringify(line);
}

function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : "null";
}

/**
 * encodeTaskLine for the many tasks of one plan (the streamed writer): the same bytes, made
 * faster. Each distinct options object is serialised once (tasks share them; the objects must not
 * change while the encoder is in use) and a NIfTI task's line is written as text in encodeTaskLine's
 * key order, without the mapped copy of its input (test/unit/plan/write-plan-stream.test.ts
 * checks the bytes against serializePlan).
 */
export function taskLineEncoder(inputRoot: string): (task: PlanTaskLine) => string {
  const rel = relativeTo(inputRoot);
  const rootPrefix = inputRoot.endsWith(path.sep) ? inputRoot : inputRoot + path.sep;
  // relativeTo's rule for a folder and a file name in it: a name holds no separator, so the file
  // lies below the root exactly when its folder (with its separator) starts with the root's.
  const relDirPrefix = (dirPrefix: string): string => {
    if (!path.isAbsolute(dirPrefix)) throw new Error(`internal: a planned input path is not absolute: ${dirPrefix}`);
    return inputRoot !== "" && dirPrefix.startsWith(rootPrefix) ? dirPrefix.slice(rootPrefix.length) : dirPrefix;
  };
  const optionsJson = new Map<unknown, string>();
  return (task) => {
    const input = task.input;
    if (input.kind !== "nifti") return encodeTaskLine(task, inputRoot);
    let o = optionsJson.get(task.options);
    if (o === undefined) {
      o = JSON.stringify(task.options) ?? "null";
      optionsJson.set(task.options, o);
    }
    let ids = "";
    let inputText: string;
    if (input instanceof CompactNiftiInput) {
      // The folder made relative and quoted once, each file's name after it (no path joined or sliced).
      const p = input.parts();
      const dir = JSON.stringify(relDirPrefix(p.dirPrefix)).slice(0, -1);
      const quoted = p.names.map((n) => dir + JSON.stringify(n).slice(1));
      for (let k = 0; k < quoted.length; k++) {
        if (k > 0) ids += ",";
        ids += `{"path":${quoted[k] as string},"size":${jsonNumber(p.sizes[k] as number)},"mtime_ms":${jsonNumber(p.mtimes[k] as number)}}`;
      }
      inputText = `{"kind":"nifti","nifti":${quoted[0] as string},"bval":${quoted[1] as string},"bvec":${quoted[2] as string},"json":${quoted[3] ?? "null"},"entities":${JSON.stringify(input.entities)},"identity":[${ids}]}`;
    } else {
      for (const f of input.identity) {
        if (ids !== "") ids += ",";
        ids += `{"path":${JSON.stringify(rel(f.path))},"size":${jsonNumber(f.size)},"mtime_ms":${jsonNumber(f.mtime_ms)}}`;
      }
      const json = input.json === null ? "null" : JSON.stringify(rel(input.json));
      inputText = `{"kind":"nifti","nifti":${JSON.stringify(rel(input.nifti))},"bval":${JSON.stringify(rel(input.bval))},"bvec":${JSON.stringify(rel(input.bvec))},"json":${json},"entities":${JSON.stringify(input.entities)},"identity":[${ids}]}`;
    }
    const head = `{"index":${jsonNumber(task.index)},"key":${JSON.stringify(task.key)},"subject":${JSON.stringify(task.subject)},"session":${task.session === null ? "null" : JSON.stringify(task.session)}`;
    return `${head},"input":${inputText},"options":${o},"config_hash":${JSON.stringify(task.config_hash)}}`;
  };
}

/** A validated task line as readers use it: absolute input paths, its folder from the layout. */
export function decodeTask(line: PlanTaskLine, inputRoot: string): PlanTask {
  return { ...line, input: mapInputPaths(line.input, absoluteFrom(inputRoot)), output_dir: relativeTaskDir(line.subject, line.session) };
}

/** A decoded task back to what its line holds. */
export function taskLineOf(task: PlanTask | PlanTaskLine): PlanTaskLine {
  return { index: task.index, key: task.key, subject: task.subject, session: task.session, input: task.input, options: task.options, config_hash: task.config_hash };
}
