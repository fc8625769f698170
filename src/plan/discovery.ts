// Over ~350 lines: BIDS discovery is one walk (root, subjects, sessions, a level's NIfTI or DICOM) whose
// steps share one context and its problems; the input checks live in inputs.ts, DICOM in dicom.ts.
import { lstatSync, readdirSync, realpathSync, statSync, type Dirent, type Stats } from "node:fs";
import path from "node:path";
import { errnoCode } from "../errors.js";
import type { CsttoolOptions } from "../schemas/options.js";
import type { SkippedSubject } from "../schemas/records.js";
import { isDwiNiftiName } from "./bids-names.js";
import { isDicomCandidateName, scanDicomDir, type DicomScan } from "./dicom.js";
import { compileGlobs, globToRegExp } from "./glob.js";
import { normalizeSessionId, normalizeSubjectId } from "./ids.js";
import { CompactNiftiInput } from "./compact-input.js";
import { buildNiftiInput, chooseDicomSeries, compileSubjectFilter, invalidDicomWarnings, unmatchedFilterWarnings } from "./inputs.js";
import { FS_CONCURRENCY, mapLimit } from "./pool.js";
import { problem, type Problem } from "./problems.js";
import type { SourceEntry, SourceResult, SubjectFilter } from "./source.js";
// Single quotes: the suggested flag must be safe to paste into a shell ("$(...)" in a folder name).
import { shellQuote } from "../shell/shell-quote.js";

/**
 * BIDS discovery, one pass: the root is listed once, each subject folder and dwi folder once, a
 * session folder only when its `dwi/` is not a plain folder holding a NIfTI (an lstat tells);
 * only the files kept for a task are stat'ed. Layout:
 *
 *   <bids>/sub-X/[ses-Y/]dwi/*_dwi.nii.gz (or .nii) + same-stem .bval, .bvec (required), .json
 *   DICOM, when the dwi folder has no *_dwi.nii[.gz]: the first of
 *     <level>/dwi/   (files with the DICM marker at byte 128, or .dcm/.ima)
 *     <level>/dwi/dicom/
 *     <level>/dicom/
 *   where <level> is the subject folder, or the session folder when there are sessions.
 *
 * Anything that does not match the subject pattern is ignored (dataset_description.json,
 * participants.tsv, derivatives/, code/ ...).
 */
export interface BidsDiscoveryOptions extends SubjectFilter {
  bidsDir: string;
  subjectPattern: string;
  sessionPattern: string;
  /** Glob on the DWI file name, picking one file when a folder holds several runs. */
  dwiFilter: string | null;
}

/**
 * The file-system calls discovery makes; tests replace them to simulate unreadable folders.
 * Synchronous on purpose: tens of thousands of small cached metadata calls are about four times
 * faster without the thread-pool round trip, which keeps 10,000 subjects well under 2 s.
 */
export interface DiscoveryFs {
  readdir(dir: string): Dirent[];
  stat(p: string): Stats;
  lstat(p: string): Stats;
  realpath(p: string): string;
}

export const nodeDiscoveryFs: DiscoveryFs = {
  readdir: (dir) => readdirSync(dir, { withFileTypes: true }),
  stat: (p) => statSync(p),
  lstat: (p) => lstatSync(p),
  realpath: (p) => realpathSync(p),
};

type Where = { subject: string | null; session: string | null };

/** A BIDS subject's own option layer: none (one shared, frozen object for every entry). */
const NO_OPTIONS: CsttoolOptions = Object.freeze({}) as CsttoolOptions;

interface Ctx {
  opts: BidsDiscoveryOptions;
  sessionMatch: RegExp;
  /** `--dwi-filter`, compiled once per discovery (picomatch compiles in ~12 us). */
  dwiMatch: ((name: string) => boolean) | null;
  fs: DiscoveryFs;
  problems: Problem[];
  skipped: SkippedSubject[];
  entries: SourceEntry[];
  excluded: string[];
  /** Session labels, one string each: 200,000 subjects share a few `ses-01`s (issue 21). */
  sessions: Map<string, string>;
}

export async function discoverBids(opts: BidsDiscoveryOptions, fs: DiscoveryFs = nodeDiscoveryFs): Promise<SourceResult> {
  const ctx: Ctx = { opts, sessionMatch: globToRegExp(opts.sessionPattern), dwiMatch: opts.dwiFilter ? compileGlobs([opts.dwiFilter]) : null, fs, problems: [], skipped: [], entries: [], excluded: [], sessions: new Map() };
  const root = opts.bidsDir;
  const none: Where = { subject: null, session: null };
  let rootStat: Stats;
  try {
    rootStat = fs.stat(root);
  } catch (e) {
    const code = errnoCode(e);
    ctx.problems.push(
      code === "ENOENT"
        ? problem("error", "discovery", `BIDS folder not found: ${root}`, "check the --bids-dir path", none)
        : problem("error", "discovery", `BIDS folder ${root} cannot be read (${code ?? (e as Error).message})`, "check its permissions", none),
    );
    return ctx;
  }
  if (!rootStat.isDirectory()) {
    ctx.problems.push(problem("error", "discovery", `--bids-dir ${root} is not a folder`, "pass the BIDS dataset's root folder (the one holding sub-* folders)", none));
    return ctx;
  }
  const listing = await listDir(ctx, root, none);
  if (!listing) return ctx;

  const subjectMatch = globToRegExp(opts.subjectPattern);
  const matchedGlobs = new Set<string>();
  const keep = compileSubjectFilter(opts, matchedGlobs);
  const subjects: { id: string; dir: string; linked: boolean }[] = [];
  const candidates = listing.filter((d) => subjectMatch.test(d.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
  await mapLimit(candidates, FS_CONCURRENCY, async (d) => {
    const dir = childPath(root, d.name);
    const idr = normalizeSubjectId(d.name);
    if (!idr.ok) {
      if (!keep(null, d.name)) return;
      // Only folders count; a file that happens to match the pattern is ignored.
      if ((await entryKind(ctx, d, dir, none, [root])) !== "dir") return;
      ctx.problems.push(problem("error", "id", `folder ${dir}: ${idr.message}`, `rename the folder, or leave it out with --exclude ${shellQuote(d.name)}`, none));
      return;
    }
    if (!keep(idr.id, d.name)) {
      ctx.excluded.push(idr.id);
      return;
    }
    const where = { subject: idr.id, session: null };
    if ((await entryKind(ctx, d, dir, where, [root])) !== "dir") return;
    subjects.push({ id: idr.id, dir, linked: d.isSymbolicLink() });
  });
  ctx.problems.push(...unmatchedFilterWarnings(opts, matchedGlobs, candidates.length, root));
  if (subjects.length === 0 && !ctx.problems.some((p) => p.severity === "error")) {
    const filtered = opts.include.length > 0 || opts.exclude.length > 0;
    ctx.problems.push(
      problem(
        "error",
        "discovery",
        `no subject folders matching ${JSON.stringify(opts.subjectPattern)}${filtered ? " (after --include/--exclude)" : ""} in ${root}`,
        filtered ? "check the --include/--exclude globs" : "check --bids-dir and --subject-pattern",
        none,
      ),
    );
    return ctx;
  }
  await mapLimit(subjects, FS_CONCURRENCY, (s) => discoverSubject(ctx, s.id, s.dir, [root], s.linked));
  return ctx;
}

/**
 * `dir`/`name` for a normalised absolute folder (the resolved root and the folders below it) and a
 * name from its listing (never `.`, `..` or with a separator): path.join's result without its
 * normalising pass, which costs more than the rest of a subject's bookkeeping.
 */
function childPath(dir: string, name: string): string {
  return dir.endsWith(path.sep) ? dir + name : dir + path.sep + name;
}

async function listDir(ctx: Ctx, dir: string, where: Where): Promise<Dirent[] | null> {
  try {
    return ctx.fs.readdir(dir);
  } catch (e) {
    const code = errnoCode(e);
    const why = code === "EACCES" || code === "EPERM" ? "permission denied" : code === "ELOOP" ? "symlink loop" : (code ?? (e as Error).message);
    ctx.problems.push(
      problem("error", "discovery", `folder ${dir} cannot be read (${why})`, where.subject ? `fix its permissions, or leave the subject out with --exclude ${where.subject}` : "fix its permissions", where),
    );
    return null;
  }
}

/**
 * Whether an entry is a folder, following a symlink (one stat, only for links). A link that loops,
 * or that points back to one of the folders above it, is reported and treated as nothing.
 */
async function entryKind(ctx: Ctx, d: Dirent, full: string, where: Where, ancestors: readonly string[]): Promise<"dir" | "file" | "none"> {
  if (d.isDirectory()) return "dir";
  if (d.isFile()) return "file";
  if (!d.isSymbolicLink()) return "none";
  let st: Stats;
  try {
    st = ctx.fs.stat(full);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ELOOP") {
      ctx.problems.push(problem("error", "discovery", `${full} is a symlink loop`, `remove or fix the link${where.subject ? `, or leave the subject out with --exclude ${where.subject}` : ""}`, where));
    } else if (code === "ENOENT") {
      ctx.problems.push(problem("warning", "discovery", `${full} is a broken symbolic link; ignored`, "remove or fix the link", where));
    } else {
      ctx.problems.push(problem("error", "discovery", `${full} cannot be read (${code ?? (e as Error).message})`, "check its permissions", where));
    }
    return "none";
  }
  if (!st.isDirectory()) return st.isFile() ? "file" : "none";
  try {
    const real = ctx.fs.realpath(full);
    for (const a of ancestors) {
      const realAncestor = ctx.fs.realpath(a);
      if (real === realAncestor || realAncestor.startsWith(real + path.sep)) {
        ctx.problems.push(problem("error", "discovery", `${full} is a symlink loop (it points to ${real}, a folder above it)`, "remove or fix the link", where));
        return "none";
      }
    }
  } catch {
    // realpath failing after stat succeeded: treat as a plain folder.
  }
  return "dir";
}

function findEntry(listing: readonly Dirent[], name: string): Dirent | undefined {
  return listing.find((d) => d.name === name);
}

/** `linked`: the subject folder was reached through a symbolic link (see SourceEntry.noLinks). */
async function discoverSubject(ctx: Ctx, subject: string, dir: string, ancestors: readonly string[], linked: boolean): Promise<void> {
  const where: Where = { subject, session: null };
  const listing = await listDir(ctx, dir, where);
  if (!listing) return;
  const chain = [...ancestors, dir];
  const sessions: { id: string; dir: string; linked: boolean }[] = [];
  for (const d of listing) {
    if (!ctx.sessionMatch.test(d.name)) continue;
    const full = childPath(dir, d.name);
    if ((await entryKind(ctx, d, full, where, chain)) !== "dir") continue;
    const sid = normalizeSessionId(d.name);
    if (!sid.ok) {
      ctx.problems.push(problem("error", "id", `folder ${full}: ${sid.message}`, "rename the session folder", where));
      continue;
    }
    sessions.push({ id: sid.id, dir: full, linked: linked || d.isSymbolicLink() });
  }
  const hasDirectData = ["dwi", "dicom"].some((n) => findEntry(listing, n) !== undefined);
  if (sessions.length > 0 && hasDirectData) {
    ctx.problems.push(
      problem(
        "error",
        "discovery",
        `${dir} has both session folders (${sessions.map((s) => path.basename(s.dir)).join(", ")}) and session-less DWI data (${["dwi", "dicom"].filter((n) => findEntry(listing, n)).map((n) => `${n}/`).join(" and ")} directly in the subject folder)`,
        "move the session-less data into a session folder, or remove it",
        where,
      ),
    );
    return;
  }
  if (sessions.length === 0) {
    await discoverLevel(ctx, dir, listing, where, chain, linked);
    return;
  }
  sessions.sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const s of sessions) {
    const session = ctx.sessions.get(s.id) ?? (ctx.sessions.set(s.id, s.id), s.id);
    const swhere = { subject, session };
    await discoverLevel(ctx, s.dir, null, swhere, [...chain, s.dir], s.linked);
  }
}

function skip(ctx: Ctx, where: Where, reason: string, details: string[], fix: string): void {
  ctx.skipped.push({ subject: where.subject ?? "", session: where.session, reason, details });
  const shown = details.length > 0 ? `: ${details.slice(0, 20).join("; ")}${details.length > 20 ? "; ..." : ""}` : "";
  ctx.problems.push(problem("warning", "skipped", `${reason}${shown}`, fix, where));
}

/** True when `p` is a folder itself (not a link, not missing, not unreadable): one lstat. */
function isPlainDir(ctx: Ctx, p: string): boolean {
  try {
    return ctx.fs.lstat(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * One subject (or session) folder: pick the DWI NIfTI, else a DICOM series. `given`: the folder's
 * listing, or null (a session folder): then a plain `dwi/` folder is listed straight away and the
 * session folder itself only when that finds no NIfTI (one lstat instead of a listing per session).
 */
async function discoverLevel(ctx: Ctx, dir: string, given: readonly Dirent[] | null, where: Where, chain: readonly string[], linked: boolean): Promise<void> {
  const dwiDir = childPath(dir, "dwi");
  let listing = given;
  let dwiListing: Dirent[] | null = null;
  let dwiLinked = false;
  if (listing === null && isPlainDir(ctx, dwiDir)) {
    dwiListing = await listDir(ctx, dwiDir, where);
    if (!dwiListing) return;
  } else {
    if (listing === null) listing = await listDir(ctx, dir, where);
    if (listing === null) return;
    const dwiEntry = findEntry(listing, "dwi");
    if (dwiEntry && (await entryKind(ctx, dwiEntry, dwiDir, where, chain)) === "dir") {
      dwiListing = await listDir(ctx, dwiDir, where);
      if (!dwiListing) return;
      dwiLinked = dwiEntry.isSymbolicLink();
    }
  }
  if (dwiListing) {
    const niftis = dwiListing
      .filter((d) => (d.isFile() || d.isSymbolicLink()) && isDwiNiftiName(d.name))
      .map((d) => d.name)
      .sort();
    if (niftis.length > 0) {
      await useNifti(ctx, dwiDir, dwiListing, niftis, where, linked || dwiLinked);
      return;
    }
  }
  if (listing === null) listing = await listDir(ctx, dir, where);
  if (listing === null) return;
  // No NIfTI: look for DICOM in dwi/, dwi/dicom/, then <level>/dicom/.
  const places: { dir: string; listing: () => Promise<Dirent[] | null> }[] = [];
  if (dwiListing) {
    const l = dwiListing;
    if (l.some((d) => (d.isFile() || d.isSymbolicLink()) && isDicomCandidateName(d.name))) places.push({ dir: dwiDir, listing: async () => l });
    const inner = findEntry(l, "dicom");
    if (inner) places.push({ dir: path.join(dwiDir, "dicom"), listing: () => dirListing(ctx, inner, path.join(dwiDir, "dicom"), where, chain) });
  }
  const beside = findEntry(listing, "dicom");
  if (beside) places.push({ dir: path.join(dir, "dicom"), listing: () => dirListing(ctx, beside, path.join(dir, "dicom"), where, chain) });
  for (const place of places) {
    const l = await place.listing();
    if (!l) continue;
    let scan: DicomScan;
    try {
      scan = await scanDicomDir(place.dir, l);
    } catch (e) {
      ctx.problems.push(problem("error", "dicom", `cannot read DICOM files in ${place.dir} (${(e as Error).message})`, "check the folder's permissions", where));
      return;
    }
    if (scan.series.length === 0) continue;
    ctx.problems.push(...invalidDicomWarnings(scan, where));
    const choice = chooseDicomSeries(scan, null);
    if (choice.kind === "ok") {
      ctx.entries.push({ subject: where.subject as string, session: where.session, input: choice.input, options: NO_OPTIONS, origin: place.dir });
    } else if (choice.kind === "ambiguous") {
      skip(ctx, where, `${place.dir} holds ${scan.series.length} DICOM series`, choice.details, "list this subject in a --manifest with the \"series_uid\" to use, or keep only the DWI series in the folder");
    }
    return;
  }
  if (!dwiListing && !beside) {
    skip(ctx, where, `no dwi/ folder in ${dir}`, [], "add the DWI data, or leave the subject out with --exclude");
    return;
  }
  skip(ctx, where, `no DWI data in ${dir}: no *_dwi.nii[.gz] and no DICOM files`, [], "add the DWI data, or leave the subject out with --exclude");
}

async function dirListing(ctx: Ctx, d: Dirent, full: string, where: Where, chain: readonly string[]): Promise<Dirent[] | null> {
  if ((await entryKind(ctx, d, full, where, chain)) !== "dir") return null;
  return listDir(ctx, full, where);
}

async function useNifti(ctx: Ctx, dwiDir: string, listing: readonly Dirent[], niftis: string[], where: Where, linked: boolean): Promise<void> {
  let chosen = niftis;
  const filter = ctx.opts.dwiFilter;
  if (filter && ctx.dwiMatch) {
    chosen = niftis.filter(ctx.dwiMatch);
    if (chosen.length === 0) {
      skip(ctx, where, `no DWI file in ${dwiDir} matches --dwi-filter ${JSON.stringify(filter)}`, niftis, "adjust --dwi-filter, or leave the subject out with --exclude");
      return;
    }
  }
  if (chosen.length > 1) {
    skip(
      ctx,
      where,
      `${dwiDir} holds ${chosen.length} DWI files (runs or acquisitions)${filter ? ` matching --dwi-filter ${JSON.stringify(filter)}` : ""}`,
      chosen,
      `choose one with --dwi-filter (a glob on the file name, e.g. ${JSON.stringify(suggestFilter(chosen))}), or list the subject in a --manifest`,
    );
    return;
  }
  // Looked up once or twice (the .json sidecar): the listing's few entries, no set made.
  const present = { has: (n: string): boolean => listing.some((d) => d.name === n) };
  const name = chosen[0] as string;
  const r = await buildNiftiInput(childPath(dwiDir, name), where, present, { compact: true, parts: { dir: dwiDir, name } });
  ctx.problems.push(...r.problems);
  // The origin is the compact input's own folder string (one string a subject, not two).
  const origin = r.ok && r.input instanceof CompactNiftiInput ? r.input.folder : dwiDir;
  if (r.ok) ctx.entries.push({ subject: where.subject as string, session: where.session, input: r.input, options: NO_OPTIONS, origin, noLinks: !linked });
}

/** A --dwi-filter example that picks the first of several DWI files by an entity. */
function suggestFilter(names: readonly string[]): string {
  const first = names[0] ?? "";
  const part = first.split("_").find((p) => /^(acq|dir|run|rec)-/.test(p));
  return part ? `*_${part}_*` : first;
}
