import { promises as fsp } from "node:fs";
import path from "node:path";
import type * as z from "../schemas/zod.js";
import { errnoCode, isCstError } from "../errors.js";
import { OPTION_KEYS, type CsttoolOptions } from "../schemas/options.js";
import {
  MANIFEST_KEYS,
  MANIFEST_SCHEMA_VERSION,
  MANIFEST_SUBJECT_KEYS,
  ManifestHeaderSchema,
  ManifestSubjectSchema,
  unifySubject,
  type ManifestSubject,
} from "../schemas/manifest.js";
import { scanDicomDir, type DicomScan } from "./dicom.js";
import { escapeForDisplay, normalizeSessionId, normalizeSubjectId } from "./ids.js";
import { buildNiftiInput, chooseDicomSeries, compileSubjectFilter, invalidDicomWarnings, unmatchedFilterWarnings } from "./inputs.js";
import { parseJsonc } from "./jsonc.js";
import { showValue } from "./options.js";
import { assertManifestBytesFit, assertSubjectCountFits } from "./memory-budget.js";
import { FS_CONCURRENCY, mapLimit } from "./pool.js";
import { problem, type Problem } from "./problems.js";
import type { SourceEntry, SourceResult, SubjectFilter } from "./source.js";

/** A manifest read from disk: its top-level fields and what its subjects yield. */
export interface ManifestSource extends SourceResult {
  manifestPath: string;
  name: string | null;
  description: string | null;
  /** The manifest's `options` / `global_options` layer ({} when absent or invalid). */
  options: CsttoolOptions;
}

type Where = { subject: string | null; session: string | null };
const NOWHERE: Where = { subject: null, session: null };

/** `["subjects", 3, "nifty"]` -> `subjects[3].nifty`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out === "" ? String(s) : `.${String(s)}`;
  }
  return out === "" ? "(top level)" : out;
}

function validKeysAt(segments: readonly PropertyKey[]): readonly string[] {
  const last = segments[segments.length - 1];
  if (last === "options" || last === "global_options") return OPTION_KEYS;
  if (segments.length === 0) return MANIFEST_KEYS;
  if (segments.length === 2 && segments[0] === "subjects") return MANIFEST_SUBJECT_KEYS;
  return [];
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0] as number;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j] as number;
      dp[j] = Math.min((dp[j] as number) + 1, (dp[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length] as number;
}

function suggest(key: string, valid: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const v of valid) {
    const d = editDistance(key.toLowerCase(), v.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = v;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

/** The value at `segments` inside `root`, or undefined. */
function valueAt(root: unknown, segments: readonly PropertyKey[]): unknown {
  let v = root;
  for (const s of segments) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[s];
  }
  return v;
}

/**
 * zod issues as problems: `path: message`, unknown keys named with the list of valid ones; an
 * option's message ends with the value found in `input` (the object that was validated).
 */
export function issuesToProblems(error: z.core.$ZodError, prefix: readonly PropertyKey[], where: Where, what = "manifest", input?: unknown): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    const at = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      const valid = validKeysAt(at);
      for (const key of issue.keys) {
        const guess = suggest(key, valid);
        out.push(
          problem(
            "error",
            at[at.length - 1] === "options" || at[at.length - 1] === "global_options" ? "options" : "manifest",
            `${what} ${formatPath([...at, key])}: unknown key; valid keys here: ${valid.join(", ")}`,
            guess ? `did you mean "${guess}"?` : "remove the key or fix its spelling",
            where,
          ),
        );
      }
      continue;
    }
    const inOptions = at.includes("options") || at.includes("global_options");
    const found = inOptions && !/\bgot\b/.test(issue.message) ? valueAt(input, issue.path) : undefined;
    const got = found !== undefined ? `, got ${showValue(found)}` : "";
    out.push(problem("error", inOptions ? "options" : "manifest", `${what} ${formatPath(at)}: ${issue.message}${got}`, inOptions ? "see `cst-batch plan --help` for the options and their ranges" : "fix the manifest entry (see `cst-batch manifest init` for an example)", where));
  }
  return out;
}

/**
 * Read, parse (JSONC) and check a manifest; every problem is collected. Throws only a CstError
 * (PREFLIGHT) for a manifest too large for this process's memory (memory-budget.ts).
 */
export async function loadManifestSource(manifestPath: string, filter: SubjectFilter): Promise<ManifestSource> {
  const file = path.resolve(manifestPath);
  const result: ManifestSource = { manifestPath: file, name: null, description: null, options: {}, entries: [], skipped: [], problems: [] };
  let text: string;
  try {
    const size = (await fsp.stat(file)).size;
    assertManifestBytesFit(file, size);
    text = await fsp.readFile(file, "utf8");
  } catch (e) {
    if (isCstError(e)) throw e;
    const code = errnoCode(e);
    result.problems.push(
      code === "ENOENT"
        ? problem("error", "manifest", `manifest not found: ${file}`, "check the --manifest path, or write an example with `cst-batch manifest init FILE`", NOWHERE)
        : problem("error", "manifest", `manifest ${file} cannot be read (${code === "EISDIR" ? "it is a folder" : (code ?? (e as Error).message)})`, "pass the manifest JSON file", NOWHERE),
    );
    return result;
  }
  const parsed = parseJsonc(text);
  if (!parsed.ok) {
    result.problems.push(problem("error", "manifest", `manifest ${file} is not valid JSON at line ${parsed.line}, column ${parsed.column}: ${parsed.message}`, "fix the syntax there (comments // and /* */ are allowed)", NOWHERE));
    return result;
  }
  const raw = parsed.value;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    result.problems.push(problem("error", "manifest", `manifest ${file} must be a JSON object with a "subjects" list`, "see `cst-batch manifest init` for an example", NOWHERE));
    return result;
  }
  const rawObj = raw as Record<string, unknown>;
  const version = rawObj.schema_version;
  if (typeof version === "number" && version > MANIFEST_SCHEMA_VERSION) {
    result.problems.push(problem("error", "manifest", `manifest ${file} has schema_version ${version}, newer than this cst-batch understands (${MANIFEST_SCHEMA_VERSION})`, "upgrade cst-batch", NOWHERE));
    return result;
  }
  const header = ManifestHeaderSchema.safeParse(rawObj);
  if (!header.success) {
    result.problems.push(...issuesToProblems(header.error, [], NOWHERE, "manifest", rawObj));
  } else {
    result.name = header.data.name ?? null;
    result.description = header.data.description ?? null;
    result.options = (header.data.options ?? header.data.global_options ?? {}) as CsttoolOptions;
  }
  const subjects = Array.isArray(rawObj.subjects) ? (rawObj.subjects as unknown[]) : [];
  assertSubjectCountFits(file, subjects.length);
  const baseDir = path.dirname(file);
  const matchedGlobs = new Set<string>();
  const keep = compileSubjectFilter(filter, matchedGlobs);

  const checked: { index: number; subject: ManifestSubject; id: string; session: string | null }[] = [];
  subjects.forEach((rawSubject, index) => {
    const guessWhere = guessIdentity(rawSubject);
    const r = ManifestSubjectSchema.safeParse(rawSubject);
    if (!r.success) {
      result.problems.push(...issuesToProblems(r.error, ["subjects", index], guessWhere, "manifest", rawSubject));
      return;
    }
    const s = unifySubject(r.data);
    const idKey = r.data.id !== undefined ? "id" : "subject_id";
    const id = normalizeSubjectId(s.id);
    const ses = s.session === null ? null : normalizeSessionId(s.session);
    let bad = false;
    if (!id.ok) {
      result.problems.push(problem("error", "id", `manifest subjects[${index}].${idKey}: ${id.message}`, 'use "sub-" followed by letters and digits only, e.g. "sub-001"', NOWHERE));
      bad = true;
    }
    if (ses && !ses.ok) {
      result.problems.push(problem("error", "id", `manifest subjects[${index}].session: ${ses.message}`, 'use "ses-" followed by letters and digits only, e.g. "ses-01"', { subject: id.ok ? id.id : null }));
      bad = true;
    }
    if (bad || !id.ok || (ses && !ses.ok)) return;
    if (!keep(id.id)) {
      (result.excluded ??= []).push(id.id);
      return;
    }
    checked.push({ index, subject: s, id: id.id, session: ses ? (ses as { id: string }).id : null });
  });
  result.problems.push(...unmatchedFilterWarnings(filter, matchedGlobs, subjects.length, file));

  const built = await mapLimit(checked, FS_CONCURRENCY, (c) => buildEntry(c.subject, c.index, c.id, c.session, baseDir));
  for (const b of built) {
    result.problems.push(...b.problems);
    if (b.entry) result.entries.push(b.entry);
  }
  return result;
}

function guessIdentity(raw: unknown): Where {
  if (typeof raw !== "object" || raw === null) return NOWHERE;
  const r = raw as Record<string, unknown>;
  const id = normalizeSubjectId(r.id ?? r.subject_id);
  const ses = r.session == null ? null : normalizeSessionId(r.session);
  return { subject: id.ok ? id.id : null, session: ses && ses.ok ? ses.id : null };
}

async function buildEntry(
  s: ManifestSubject,
  index: number,
  subject: string,
  session: string | null,
  baseDir: string,
): Promise<{ entry: SourceEntry | null; problems: Problem[] }> {
  const where = { subject, session };
  const origin = `subjects[${index}]`;
  const target = path.resolve(baseDir, s.input.path);
  if (s.input.kind === "nifti") {
    const r = await buildNiftiInput(target, where, undefined, { compact: true });
    const problems = r.problems.map((p) => ({ ...p, message: `manifest ${origin}.nifti: ${p.message}` }));
    return { entry: r.ok ? { subject, session, input: r.input, options: s.options, origin } : null, problems };
  }
  const seriesUid = s.input.series_uid;
  let scan: DicomScan;
  try {
    const st = await fsp.stat(target);
    if (!st.isDirectory()) {
      return { entry: null, problems: [problem("error", "input", `manifest ${origin}.dicom: ${target} is not a folder`, '"dicom" must name the folder that holds the series\' files', where)] };
    }
    scan = await scanDicomDir(target);
  } catch (e) {
    const code = errnoCode(e);
    const msg = code === "ENOENT" ? `DICOM folder not found: ${target}` : `DICOM folder ${target} cannot be read (${code ?? (e as Error).message})`;
    return { entry: null, problems: [problem("error", "input", `manifest ${origin}.dicom: ${msg}`, code === "ENOENT" ? "fix the path (relative paths are resolved against the manifest's folder)" : "check the folder's permissions", where)] };
  }
  const warnings = invalidDicomWarnings(scan, where);
  const choice = chooseDicomSeries(scan, seriesUid);
  switch (choice.kind) {
    case "ok":
      return { entry: { subject, session, input: choice.input, options: s.options, origin }, problems: warnings };
    case "empty":
      return { entry: null, problems: [...warnings, problem("error", "dicom", `manifest ${origin}.dicom: no DICOM files in ${target}`, "point to the folder that holds the DWI series' .dcm files", where)] };
    case "ambiguous":
      return {
        entry: null,
        problems: [...warnings, problem("error", "dicom", `manifest ${origin}.dicom: ${target} holds ${scan.series.length} DICOM series: ${choice.details.join("; ")}`, 'add "series_uid" to the subject entry with the DWI series\' uid', where)],
      };
    case "not-found":
      return {
        entry: null,
        problems: [...warnings, problem("error", "dicom", `manifest ${origin}.series_uid: series ${escapeForDisplay(seriesUid)} is not in ${target}; found: ${choice.details.join("; ")}`, 'fix "series_uid"', where)],
      };
  }
}
