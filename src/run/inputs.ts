import fs, { constants as fsConstants } from "node:fs";
import path from "node:path";
import { closeInputs, type OpenedInput } from "./input-hashes.js";
import { assertRealDirs, mkdirConfined } from "../util/confined-fs.js";
import { errnoCode } from "../errors.js";
import type { FailureCategory, InputHash, PlanTask } from "../schemas/records.js";
import { seriesDigest, sha256OfFdSync } from "../plan/dicom-digest.js";

/** Re-check a task's inputs against the identity recorded in the plan, just before csttool runs. */

/**
 * `dicomFiles`: the chosen series' files, to link into `_work/` (DICOM with a series_uid).
 * `opened`: with `keepOpen`, the NIfTI inputs as opened for the check (run-one hashes their bytes
 * from these descriptors, src/run/input-hashes.ts; the caller closes them).
 */
export type InputCheck = { ok: true; dicomFiles: string[] | null; opened: OpenedInput[]; seriesHash?: InputHash } | { ok: false; category: FailureCategory; message: string };

function statOrNull(file: string): fs.Stats | null | { error: string } {
  try {
    return fs.statSync(file);
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return null;
    return { error: `${file}: ${(e as Error).message}` };
  }
}

const changed = (a: number, b: number): boolean => Math.abs(a - b) >= 1;

const REPLAN = "input changed since plan; re-run plan";

/** The file opened read-only and its descriptor stat'ed (one path lookup, like a stat); the caller owns `fd` after. */
function openStat(file: string): { fd: number; st: fs.Stats } | null | { error: string } {
  let fd: number;
  try {
    fd = fs.openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return null;
    return { error: `${file}: ${(e as Error).message}` };
  }
  try {
    return { fd, st: fs.fstatSync(fd) };
  } catch (e) {
    fs.closeSync(fd);
    return { error: `${file}: ${(e as Error).message}` };
  }
}

/** A NIfTI input opened and kept open in `opened`: its identity from the descriptor its bytes are later hashed from. */
function openOrNull(file: string, opened: OpenedInput[]): fs.Stats | null | { error: string } {
  const o = openStat(file);
  if (o === null || "error" in o) return o;
  opened.push({ path: file, fd: o.fd, size: o.st.size, mtime_ms: o.st.mtimeMs, ino: o.st.ino });
  return o.st;
}

/**
 * Whether the task's inputs are still those planned. With `keepOpen` (run-one), the NIfTI inputs
 * are opened instead of stat'ed and stay open in `opened` (closed here when the check fails).
 */
export async function checkInputs(task: PlanTask, opts: { keepOpen?: boolean } = {}): Promise<InputCheck> {
  const opened: OpenedInput[] = [];
  const r = await checkInputsWith(task, opts.keepOpen === true ? (f) => openOrNull(f, opened) : statOrNull, opts.keepOpen === true);
  if (r.ok) return { ...r, opened };
  closeInputs(opened);
  return r;
}

async function checkInputsWith(
  task: PlanTask,
  probe: (f: string) => ReturnType<typeof statOrNull>,
  hashSeries: boolean,
): Promise<{ ok: true; dicomFiles: string[] | null; seriesHash?: InputHash } | Extract<InputCheck, { ok: false }>> {
  const input = task.input;
  if (input.kind === "nifti") {
    const required = [input.nifti, input.bval, input.bvec];
    const missing: string[] = [];
    // Each input is looked at once: the identity checks below reuse these.
    const stats = new Map<string, ReturnType<typeof statOrNull>>();
    const statOnce = (f: string): ReturnType<typeof statOrNull> => {
      if (!stats.has(f)) stats.set(f, probe(f));
      return stats.get(f) ?? null;
    };
    for (const f of required) {
      const st = statOnce(f);
      if (st === null) missing.push(f);
      else if ("error" in st) return { ok: false, category: "SYSTEM", message: `cannot read an input: ${st.error}` };
    }
    for (const id of input.identity) {
      if (required.includes(id.path)) continue;
      const st = statOnce(id.path);
      if (st === null) missing.push(id.path);
    }
    if (missing.length) return { ok: false, category: "INPUT_MISSING", message: `input file(s) missing: ${missing.join(", ")}` };
    for (const id of input.identity) {
      const st = statOnce(id.path);
      if (st === null || "error" in st) continue;
      if (st.size !== id.size || changed(st.mtimeMs, id.mtime_ms)) {
        return {
          ok: false,
          category: "VALIDATION",
          message: `${REPLAN}: ${id.path} was ${id.size} bytes, mtime ${new Date(id.mtime_ms).toISOString()}; now ${st.size} bytes, mtime ${new Date(st.mtimeMs).toISOString()}`,
        };
      }
    }
    return { ok: true, dicomFiles: null };
  }
  const st = statOrNull(input.dicom_dir);
  if (st === null) return { ok: false, category: "INPUT_MISSING", message: `DICOM folder missing: ${input.dicom_dir}` };
  if ("error" in st) return { ok: false, category: "SYSTEM", message: `cannot read an input: ${st.error}` };
  const { selectDicomSeriesFiles } = await import("../plan/dicom.js");
  const seriesUid = input.series_uid ?? input.series.series_uid;
  const files = await selectDicomSeriesFiles(input.dicom_dir, seriesUid);
  if (files.length === 0) {
    return { ok: false, category: "INPUT_MISSING", message: `DICOM series ${seriesUid} not found in ${input.dicom_dir}` };
  }
  let total = 0;
  let newest = 0;
  // run-one opens each file instead of stat'ing it (the same one lookup) and hashes its bytes
  // before csttool starts: the series' content hash goes into _done.json (src/plan/dicom-digest.ts).
  const hashed: Array<{ path: string; size: number; sha256: string }> = [];
  for (const f of files) {
    const s = hashSeries ? openHashed(f, hashed) : statOrNull(f);
    if (s === null || "error" in s) return { ok: false, category: "INPUT_MISSING", message: `DICOM file vanished: ${f}` };
    total += s.size;
    newest = Math.max(newest, s.mtimeMs);
  }
  const id = input.identity;
  if (files.length !== id.file_count || total !== id.total_size || changed(newest, id.newest_mtime_ms)) {
    return {
      ok: false,
      category: "VALIDATION",
      message: `${REPLAN}: series ${seriesUid} in ${input.dicom_dir} had ${id.file_count} files / ${id.total_size} bytes, now ${files.length} files / ${total} bytes`,
    };
  }
  const seriesHash = hashSeries && hashed.length === files.length ? { path: input.dicom_dir, size: total, mtime_ms: newest, ino: 0, sha256: seriesDigest(input.dicom_dir, hashed) } : null;
  return { ok: true, dicomFiles: input.series_uid ? files : null, ...(seriesHash ? { seriesHash } : {}) };
}

/** A DICOM file opened, stat'ed from its descriptor and hashed (into `hashed`; not when its bytes cannot be read). */
function openHashed(file: string, hashed: Array<{ path: string; size: number; sha256: string }>): fs.Stats | null | { error: string } {
  const o = openStat(file);
  if (o === null || "error" in o) return o;
  try {
    hashed.push({ path: file, size: o.st.size, sha256: sha256OfFdSync(o.fd) });
  } catch {
    // unreadable bytes: no series hash (csttool says what it finds)
  } finally {
    fs.closeSync(o.fd);
  }
  return o.st;
}

/** Re-create `linkDir` holding symlinks to exactly the given files (csttool sees one series). */
export async function linkDicomSeries(root: string, linkDir: string, files: readonly string[]): Promise<void> {
  assertRealDirs(root, path.dirname(linkDir));
  fs.rmSync(linkDir, { recursive: true, force: true });
  mkdirConfined(root, linkDir);
  const used = new Set<string>();
  for (const f of files) {
    let name = path.basename(f);
    for (let n = 2; used.has(name); n++) name = `${n}_${path.basename(f)}`;
    used.add(name);
    fs.symlinkSync(path.resolve(f), path.join(linkDir, name));
  }
}
