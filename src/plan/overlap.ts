import { realpathSync } from "node:fs";
import path from "node:path";
import { OUTPUT_FILES, STATE_DIR, relativeTaskDir, taskKey } from "../layout.js";
import { problem, type Problem } from "./problems.js";
import type { SourceEntry } from "./source.js";
import { CompactNiftiInput } from "./compact-input.js";

/**
 * `--out` must never overlap an input: cst-batch writes, renames and replaces files inside
 * `--out`, so an input there can be lost. Compared on real paths (symlinks resolved, `..` and
 * trailing slashes gone), `--out` must not be, contain, or lie inside
 *   - the BIDS root, or lie inside one of its subject folders (`<bids>/sub-*`); `<bids>/derivatives/<name>` is fine;
 *   - any folder holding a subject's input files (NIfTI, bval, bvec, json) or a subject's DICOM folder;
 * and the manifest must not be a file cst-batch writes (`.cst-batch/`, `logs/`, the study
 * files, the subject folders). One realpath per distinct input folder not known to lie below the
 * BIDS root through folders only.
 */

export interface PlanInputs {
  bidsDir: string | null;
  manifestPath: string | null;
  entries: readonly SourceEntry[];
}

/** Individual problems before the rest are summed up in one (a wrong --out can cover 10,000 folders). */
const MAX_LISTED = 20;

/** The real path of `p`; a part that does not exist yet is kept as written below its nearest existing ancestor. */
export function realPathOf(p: string): string {
  const abs = path.resolve(p);
  try {
    return realpathSync.native(abs);
  } catch {
    const parent = path.dirname(abs);
    if (parent === abs) return abs;
    return path.join(realPathOf(parent), path.basename(abs));
  }
}

/** True when `inner` lies strictly inside `outer` (both absolute and normalised). */
export function isInside(inner: string, outer: string): boolean {
  if (inner === outer) return false;
  const prefix = outer.endsWith(path.sep) ? outer : outer + path.sep;
  return inner.startsWith(prefix);
}

type Relation = "is" | "contains" | "lies inside";

/** How `out` stands to `input`, or null when they are apart. */
function relationOf(out: string, input: string): Relation | null {
  if (out === input) return "is";
  if (isInside(input, out)) return "contains";
  if (isInside(out, input)) return "lies inside";
  return null;
}

/** `/a/b` or `/a/b (real path /x/b)` when a symlink was resolved. */
function shown(given: string, real: string): string {
  return given === real ? given : `${given} (real path ${real})`;
}

interface InputFolder {
  given: string;
  what: string;
  subject: string;
  session: string | null;
  /** Further tasks reading this folder. */
  others: number;
}

/** The folders (with the names of the files in them) an entry reads. */
function foldersOf(e: SourceEntry): Map<string, string> {
  const dirs = new Map<string, string>();
  if (e.input instanceof CompactNiftiInput) {
    dirs.set(e.input.folder, e.input.hasJson ? "NIfTI, .bval, .bvec, .json sidecar" : "NIfTI, .bval, .bvec");
  } else if (e.input.kind === "nifti") {
    for (const [file, what] of [
      [e.input.nifti, "NIfTI"],
      [e.input.bval, ".bval"],
      [e.input.bvec, ".bvec"],
      [e.input.json, ".json sidecar"],
    ] as const) {
      if (!file) continue;
      const dir = path.dirname(file);
      dirs.set(dir, dirs.has(dir) ? `${dirs.get(dir)}, ${what}` : what);
    }
  } else {
    dirs.set(e.input.dicom_dir, "DICOM folder");
  }
  return dirs;
}

/**
 * The distinct input folders of the entries that overlap `out`, by real path. A folder below the
 * BIDS root reached without a symbolic link (SourceEntry.noLinks) gets its real path from the
 * root's, without a call; the others one realpath per distinct folder. Folders apart from `out`
 * are not kept (a study of 200,000 subjects has as many folders).
 */
function overlappingFolders(entries: readonly SourceEntry[], out: string, bids: { given: string; real: string } | null): Map<string, InputFolder & { rel: Relation }> {
  const realOf = new Map<string, string | null>();
  const folders = new Map<string, InputFolder & { rel: Relation }>();
  const below = bids === null ? null : bids.given.endsWith(path.sep) ? bids.given : bids.given + path.sep;
  // Every folder below the BIDS root lies inside its real path: when that is apart from `out`, so is
  // each such folder reached through folders only (one test a subject, no path made).
  const rootApart = bids !== null && relationOf(out, bids.real) === null;
  for (const e of entries) {
    if (rootApart && e.noLinks === true && e.input instanceof CompactNiftiInput && e.input.folder.startsWith(below as string)) continue;
    for (const [dir, what] of foldersOf(e)) {
      let real: string | null | undefined;
      if (e.noLinks === true && bids !== null && below !== null && dir.startsWith(below)) {
        real = path.join(bids.real, dir.slice(below.length));
      } else {
        real = realOf.get(dir);
        if (real === undefined) {
          try {
            real = realpathSync.native(dir);
          } catch {
            real = null; // reported by the input checks already
          }
          realOf.set(dir, real);
        }
      }
      if (real === null) continue;
      const known = folders.get(real);
      if (known) {
        known.others++;
        continue;
      }
      const rel = relationOf(out, real);
      if (rel !== null) folders.set(real, { given: dir, what: `${taskKey(e.subject, e.session)}'s ${what}`, subject: e.subject, session: e.session, others: 0, rel });
    }
  }
  return folders;
}

const FIX = "choose an --out folder apart from every input, e.g. <bids>/derivatives/csttool or a new folder beside the data";

/** Problems for an `--out` that overlaps an input folder, the BIDS root, or would overwrite the manifest. */
export function checkOutOverlap(outGiven: string, inputs: PlanInputs): Problem[] {
  const out = realPathOf(outGiven);
  const outShown = shown(path.resolve(outGiven), out);
  const problems: Problem[] = [];

  if (inputs.bidsDir !== null) {
    const root = realPathOf(inputs.bidsDir);
    const rootShown = shown(path.resolve(inputs.bidsDir), root);
    const rel = relationOf(out, root);
    const top = rel === "lies inside" ? (path.relative(root, out).split(path.sep)[0] ?? "") : "";
    if (rel === "is") {
      problems.push(problem("error", "output", `--out ${outShown} is the BIDS folder itself`, `write results elsewhere, e.g. ${path.join(inputs.bidsDir, "derivatives", "csttool")}`));
    } else if (rel === "contains") {
      problems.push(problem("error", "output", `--out ${outShown} contains the BIDS folder ${rootShown}`, FIX));
    } else if (rel === "lies inside" && top.startsWith("sub-")) {
      const subjectDir = path.join(root, top);
      const how = out === subjectDir ? "is" : "lies inside";
      problems.push(
        problem("error", "output", `--out ${outShown} ${how} the BIDS subject folder ${subjectDir} of the BIDS folder ${rootShown}`, `write results elsewhere, e.g. ${path.join(inputs.bidsDir, "derivatives", "csttool")}`),
      );
    }
  }

  let listed = 0;
  let more = 0;
  const bids = inputs.bidsDir === null ? null : { given: path.resolve(inputs.bidsDir), real: realPathOf(inputs.bidsDir) };
  for (const [real, f] of overlappingFolders(inputs.entries, out, bids)) {
    const rel = f.rel;
    if (listed >= MAX_LISTED) {
      more++;
      continue;
    }
    listed++;
    const also = f.others > 0 ? ` and ${f.others} more task(s)` : "";
    problems.push(
      problem("error", "output", `--out ${outShown} ${rel} the input folder ${shown(f.given, real)} (${f.what}${also}); cst-batch writes into --out and an input there could be overwritten or moved`, FIX, {
        subject: f.subject,
        session: f.session,
      }),
    );
  }
  if (more > 0) problems.push(problem("error", "output", `--out ${outShown} overlaps ${more} more input folder(s) like the ones above`, FIX));

  if (inputs.manifestPath !== null) {
    const manifest = realPathOf(inputs.manifestPath);
    const written = writtenBy(out, manifest, inputs.entries);
    if (written !== null) {
      problems.push(
        problem("error", "output", `the manifest ${shown(path.resolve(inputs.manifestPath), manifest)} is ${written} inside --out ${outShown}; cst-batch would overwrite or move it`, "keep the manifest outside --out's .cst-batch/, logs/, subject folders and study files, or choose another --out"),
      );
    }
  }
  return problems;
}

/** What cst-batch writes at `file` inside `out` ("the study file ...", "in the subject folder ..."), or null. */
function writtenBy(out: string, file: string, entries: readonly SourceEntry[]): string | null {
  if (!isInside(file, out)) return null;
  const rel = path.relative(out, file);
  const first = rel.split(path.sep)[0] ?? "";
  if (first === STATE_DIR) return `in ${STATE_DIR}/, cst-batch's state folder,`;
  if (first === "logs") return "in logs/, the log folder,";
  if ((Object.values(OUTPUT_FILES) as string[]).includes(rel)) return `the study file ${rel} that collect writes`;
  for (const e of entries) {
    const taskDir = relativeTaskDir(e.subject, e.session);
    if (rel === taskDir || rel.startsWith(taskDir + path.sep)) return `in the subject folder ${taskDir}/ (results are promoted there)`;
  }
  return null;
}
