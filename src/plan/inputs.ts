import { closeSync, constants, fstatSync, openSync, statSync, type Stats } from "node:fs";
import path from "node:path";
import { errnoCode } from "../errors.js";
import type { FileIdentity, TaskInput } from "../schemas/records.js";
import { parseBidsEntities, niftiStem } from "./bids-names.js";
import { describeSeries, seriesIdentity, type DicomScan } from "./dicom.js";
import { globToRegExp } from "./glob.js";
import { checkNiftiHeader, checkNiftiHeaderOf, type NiftiHeaderCheck } from "./nifti-header.js";
import { CompactNiftiInput } from "./compact-input.js";
import { idLabel } from "./ids.js";
import { problem, type Problem } from "./problems.js";
import type { SubjectFilter } from "./source.js";

type Where = { subject: string | null; session: string | null };

export type InputResult = { ok: true; input: TaskInput; problems: Problem[] } | { ok: false; problems: Problem[] };

function identityOf(file: string, st: Stats): FileIdentity {
  return { path: file, size: st.size, mtime_ms: st.mtimeMs };
}

/**
 * stat() turned into a problem naming the file; `optional` files may be absent. Synchronous:
 * cached metadata calls are much faster without the thread pool (see discovery.ts).
 */
function statFile(
  file: string,
  what: string,
  where: Where,
  optional: boolean,
): { kind: "ok"; stats: Stats } | { kind: "absent" } | { kind: "problem"; problem: Problem } {
  try {
    const stats = statSync(file);
    if (!stats.isFile()) {
      return { kind: "problem", problem: problem("error", "input", `${what} ${file} is not a regular file`, "point to the file itself", where) };
    }
    return { kind: "ok", stats };
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" && optional) return { kind: "absent" };
    if (code === "ENOENT") {
      return { kind: "problem", problem: problem("error", "input", `${what} not found: ${file}`, what === "NIfTI" ? "fix the path to the DWI NIfTI" : `create it or fix the path; csttool expects the ${what} beside the NIfTI with the same stem`, where) };
    }
    if (code === "ELOOP") {
      return { kind: "problem", problem: problem("error", "input", `${what} ${file} is a symlink loop`, "fix the symbolic link", where) };
    }
    return { kind: "problem", problem: problem("error", "input", `${what} ${file} cannot be read (${code ?? (e as Error).message})`, "check the file's permissions", where) };
  }
}

type Stat = ReturnType<typeof statFile>;

/**
 * The NIfTI opened once (non-blocking: a FIFO never hangs the plan): its identity from the open
 * descriptor's stat and its header check, so the NIfTI costs one path lookup, not a stat and an
 * open. When the open fails, the stat says why (not found, a loop, a folder that cannot be
 * searched) as it always did, and the header check says the file cannot be opened.
 */
function openNifti(nifti: string, where: Where): { stat: Stat; header: NiftiHeaderCheck | null } {
  const gzip = nifti.endsWith(".gz");
  let fd: number;
  try {
    fd = openSync(nifti, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    const stat = statFile(nifti, "NIfTI", where, false);
    return { stat, header: stat.kind === "ok" ? checkNiftiHeader(nifti, gzip, stat.stats.size) : null };
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { stat: { kind: "problem", problem: problem("error", "input", `NIfTI ${nifti} is not a regular file`, "point to the file itself", where) }, header: null };
    return { stat: { kind: "ok", stats }, header: checkNiftiHeaderOf(fd, gzip, stats.size) };
  } finally {
    closeSync(fd);
  }
}

/**
 * A NIfTI input: the `.nii`/`.nii.gz`, the same-stem `.bval`/`.bvec` (required) and `.json`
 * (optional), each looked up once for its identity (the NIfTI through its open, see openNifti).
 * `present` (a folder listing) avoids stat'ing a `.json` that is not there. `compact`: the input
 * in the planner's compact form (src/plan/compact-input.ts), for a whole study held in memory.
 */
export async function buildNiftiInput(
  nifti: string,
  where: Where,
  present?: Pick<ReadonlySet<string>, "has">,
  /**
   * compact: a CompactNiftiInput; parts: the normalised folder and the name (from its listing)
   * `nifti` was joined from, held as they are (not slices of the joined path, not joined again).
   */
  opts: { compact?: boolean; parts?: { dir: string; name: string } } = {},
): Promise<InputResult> {
  const name = opts.parts?.name ?? path.basename(nifti);
  const stem = niftiStem(name);
  if (stem === null) {
    return { ok: false, problems: [problem("error", "input", `${nifti} is not a NIfTI file name (expected .nii or .nii.gz)`, 'point "nifti" to the DWI .nii.gz file', where)] };
  }
  const dir = opts.parts?.dir ?? path.dirname(nifti);
  // A normalised path (the planner's own): its folder is too, and a name beside it needs no join.
  const normal = opts.parts !== undefined || path.join(dir, name) === nifti;
  const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
  const beside = (n: string): string => (normal ? prefix + n : path.join(dir, n));
  const bval = beside(`${stem}.bval`);
  const bvec = beside(`${stem}.bvec`);
  const json = beside(`${stem}.json`);
  const jsonListed = present ? present.has(`${stem}.json`) : true;
  const { stat: n, header } = openNifti(nifti, where);
  const bl = statFile(bval, ".bval file", where, false);
  const bc = statFile(bvec, ".bvec file", where, false);
  const js = jsonListed ? statFile(json, ".json sidecar", where, true) : ({ kind: "absent" } as const);
  // A missing NIfTI says it all; its missing companions would only repeat it.
  if (n.kind === "problem") return { ok: false, problems: [n.problem] };
  const problems: Problem[] = [];
  if (header !== null && !header.ok) problems.push(problem("error", "input", `NIfTI ${nifti}: ${header.found}`, header.fix, where));
  for (const r of [bl, bc, js]) if (r.kind === "problem") problems.push(r.problem);
  if (problems.length > 0 || n.kind !== "ok" || bl.kind !== "ok" || bc.kind !== "ok") return { ok: false, problems };
  const entities = parseBidsEntities(name);
  if (opts.compact === true && normal) {
    const j = js.kind === "ok" ? js.stats : null;
    const input = new CompactNiftiInput(dir, name, entities, {
      sizes: [n.stats.size, bl.stats.size, bc.stats.size, j === null ? -1 : j.size],
      mtimes: [n.stats.mtimeMs, bl.stats.mtimeMs, bc.stats.mtimeMs, j === null ? 0 : j.mtimeMs],
    });
    return { ok: true, problems: [], input };
  }
  const identity = [identityOf(nifti, n.stats), identityOf(bval, bl.stats), identityOf(bvec, bc.stats)];
  if (js.kind === "ok") identity.push(identityOf(json, js.stats));
  return {
    ok: true,
    problems: [],
    input: {
      kind: "nifti",
      nifti,
      bval,
      bvec,
      json: js.kind === "ok" ? json : null,
      entities,
      identity,
    },
  };
}

export type DicomChoice =
  | { kind: "ok"; input: TaskInput }
  | { kind: "empty" }
  | { kind: "ambiguous"; details: string[] }
  | { kind: "not-found"; details: string[] };

/** Pick the series of a scanned folder: the requested uid, or the only series there is. */
export function chooseDicomSeries(scan: DicomScan, seriesUid: string | null): DicomChoice {
  if (scan.series.length === 0) return { kind: "empty" };
  const details = scan.series.map(describeSeries);
  let group = scan.series[0];
  if (seriesUid !== null) {
    group = scan.series.find((s) => s.series_uid === seriesUid);
    if (!group) return { kind: "not-found", details };
  } else if (scan.series.length > 1) {
    return { kind: "ambiguous", details };
  }
  const g = group as NonNullable<typeof group>;
  return {
    kind: "ok",
    input: {
      kind: "dicom",
      dicom_dir: scan.dir,
      series_uid: seriesUid,
      series: { series_uid: g.series_uid, series_number: g.series_number, series_description: g.series_description, file_count: g.file_count },
      identity: seriesIdentity(g.files),
    },
  };
}

/** Warnings for files that looked like DICOM but could not be read. */
export function invalidDicomWarnings(scan: DicomScan, where: Where): Problem[] {
  if (scan.invalid.length === 0) return [];
  const list = scan.invalid.slice(0, 5).map((f) => `${path.basename(f.path)}: ${f.reason}`).join("; ");
  return [
    problem(
      "warning",
      "dicom",
      `${scan.invalid.length} file(s) in ${scan.dir} look like DICOM but their header could not be read (${list}${scan.invalid.length > 5 ? "; ..." : ""})`,
      "remove or repair them; csttool may fail on them",
      where,
    ),
  ];
}

/**
 * Include/exclude globs as one predicate on the subject id (`sub-001`), its bare label (`001`)
 * and the folder name (the only name an invalid id has).
 */
export function compileSubjectFilter(filter: SubjectFilter, matched?: Set<string>): (id: string | null, folderName?: string) => boolean {
  const each = (globs: readonly string[]): Array<[string, RegExp]> => globs.map((g) => [g, globToRegExp(g)]);
  const inc = filter.include.length > 0 ? each(filter.include) : null;
  const exc = filter.exclude.length > 0 ? each(filter.exclude) : null;
  // Every glob is tried (not only up to the first hit), so that `matched` knows each one that matched a subject.
  const hits = (globs: Array<[string, RegExp]>, names: string[]): boolean => {
    let any = false;
    for (const [g, re] of globs) {
      if (!names.some((n) => re.test(n))) continue;
      any = true;
      matched?.add(g);
    }
    return any;
  };
  return (id, folderName) => {
    const names = id === null ? [] : [id, idLabel(id)];
    if (folderName !== undefined && folderName !== id) names.push(folderName);
    const included = inc === null || hits(inc, names);
    const excluded = exc !== null && hits(exc, names);
    return included && !excluded;
  };
}

/**
 * A warning for each --include/--exclude glob that matched no subject (a typo, or `a,b` given to
 * an older cst-batch as one glob): the plan goes on, the user is told.
 */
export function unmatchedFilterWarnings(filter: SubjectFilter, matched: ReadonlySet<string>, found: number, where: string): Problem[] {
  const out: Problem[] = [];
  for (const [flag, globs] of [["--include", filter.include], ["--exclude", filter.exclude]] as const) {
    for (const g of globs) {
      if (matched.has(g)) continue;
      out.push(
        problem(
          "warning",
          "request",
          `${flag} ${JSON.stringify(g)} matches no subject (of ${found} found in ${where})`,
          `subjects are matched by id (sub-001 or 001); check the spelling, and give several as ${flag} a,b or by repeating ${flag}`,
        ),
      );
    }
  }
  return out;
}
