import { promises as fsp, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * The hostile-input corpus: each case builds its inputs in a case folder and says which command
 * to run, the exit code it must end with, and what the message must name.
 */
export interface HostileCase {
  name: string;
  /** Builds inputs under `dir` and returns the CLI arguments (`{out}` is replaced by the --out folder). */
  setup: (dir: string, ctx: CorpusContext) => string[] | Promise<string[]>;
  code: number;
  /** Every pattern must match stderr (the message names the input and the fix). */
  stderr: RegExp[];
  /** Milliseconds the command may take (default 60 s). */
  maxMs?: number;
  env?: Record<string, string>;
}

export interface CorpusContext {
  /** A good demo BIDS dataset. */
  bids: string;
  /** A valid NIfTI of the demo dataset (absolute). */
  nifti: string;
  /** A valid DICOM folder of the demo dataset (absolute). */
  dicom: string;
  standin: string;
}

export function writeManifest(dir: string, value: unknown, name = "manifest.json"): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value, null, 1));
  return file;
}

const plan = (c: CorpusContext, ...rest: string[]): string[] => ["plan", ...rest, "--out", "{out}", "--csttool", c.standin, "--skip-disk-check"];
const viaManifest = (dir: string, c: CorpusContext, value: unknown): string[] => plan(c, "--manifest", writeManifest(dir, value));
const subject = (c: CorpusContext, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ id: "sub-01", nifti: c.nifti, ...extra });
const withId = (id: unknown) => (dir: string, c: CorpusContext) => viaManifest(dir, c, { subjects: [subject(c, { id })] });
const withSession = (session: unknown) => (dir: string, c: CorpusContext) => viaManifest(dir, c, { subjects: [subject(c, { session })] });

const USAGE = 2;
const PREFLIGHT = 3;
/** README "Exit codes": an invalid manifest (missing, not JSON, wrong structure, unknown keys) is bad input, like a bad flag. */
const INVALID_MANIFEST = USAGE;
/** The manifest's path is named. */
const MANIFEST = /manifest\.json/;
/** A fix is given ("fix:" line for problems, "what to do:" for errors). */
const FIX = /fix:|what to do:/;

export const HOSTILE_CASES: HostileCase[] = [
  // --- manifest syntax and shape
  { name: "manifest: invalid JSON", setup: (d, c) => viaManifest(d, c, '{ "subjects": [ {"id": "sub-01",, } '), code: INVALID_MANIFEST, stderr: [MANIFEST, /not valid JSON at line 1/, FIX] },
  { name: "manifest: empty file", setup: (d, c) => viaManifest(d, c, ""), code: INVALID_MANIFEST, stderr: [MANIFEST, FIX] },
  { name: "manifest: binary garbage", setup: (d, c) => viaManifest(d, c, "\u0000\u00ff\u00fe\u0001PK\u0003\u0004"), code: INVALID_MANIFEST, stderr: [MANIFEST, FIX] },
  { name: "manifest: top level is an array", setup: (d, c) => viaManifest(d, c, [subject(c)]), code: INVALID_MANIFEST, stderr: [MANIFEST, /JSON object/, FIX] },
  { name: "manifest: subjects is a number", setup: (d, c) => viaManifest(d, c, { subjects: 5 }), code: INVALID_MANIFEST, stderr: [/subjects/, FIX] },
  { name: "manifest: empty subjects", setup: (d, c) => viaManifest(d, c, { subjects: [] }), code: INVALID_MANIFEST, stderr: [/at least one subject/, FIX] },
  { name: "manifest: unknown top-level key", setup: (d, c) => viaManifest(d, c, { subjects: [subject(c)], subjcts: [] }), code: INVALID_MANIFEST, stderr: [/subjcts/, FIX] },
  { name: "manifest: unknown subject key", setup: (d, c) => viaManifest(d, c, { subjects: [{ id: "sub-01", nifty: c.nifti }] }), code: INVALID_MANIFEST, stderr: [/nifty/, FIX] },
  { name: "manifest: both nifti and dicom", setup: (d, c) => viaManifest(d, c, { subjects: [subject(c, { dicom: c.dicom })] }), code: INVALID_MANIFEST, stderr: [/exactly one/, FIX] },
  { name: "manifest: neither nifti nor dicom", setup: (d, c) => viaManifest(d, c, { subjects: [{ id: "sub-01" }] }), code: INVALID_MANIFEST, stderr: [/exactly one/, FIX] },
  { name: "manifest: id is a number", setup: withId(5), code: INVALID_MANIFEST, stderr: [/id/, FIX] },
  { name: "manifest: id and subject_id both", setup: (d, c) => viaManifest(d, c, { subjects: [subject(c, { subject_id: "01" })] }), code: INVALID_MANIFEST, stderr: [/subject_id/, FIX] },
  { name: "manifest: newer schema_version", setup: (d, c) => viaManifest(d, c, { schema_version: 9, subjects: [subject(c)] }), code: INVALID_MANIFEST, stderr: [/schema_version/, FIX] },
  { name: "manifest: duplicate key in JSON", setup: (d, c) => viaManifest(d, c, `{"subjects": [{"id": "sub-01", "id": "sub-02", "nifti": ${JSON.stringify(c.nifti)}}]}`), code: INVALID_MANIFEST, stderr: [/duplicate key/, FIX] },
  { name: "manifest: file missing", setup: (d, c) => plan(c, "--manifest", path.join(d, "nope.json")), code: INVALID_MANIFEST, stderr: [/nope\.json/, /not found/, FIX] },
  { name: "manifest: is a folder", setup: (d, c) => plan(c, "--manifest", d), code: INVALID_MANIFEST, stderr: [/folder/, FIX] },
  // --- options
  { name: "options: fa_thr of the wrong type", setup: (d, c) => viaManifest(d, c, { options: { fa_thr: "high" }, subjects: [subject(c)] }), code: PREFLIGHT, stderr: [/fa_thr/, FIX] },
  { name: "options: fa_thr out of range", setup: (d, c) => viaManifest(d, c, { options: { fa_thr: 7 }, subjects: [subject(c)] }), code: PREFLIGHT, stderr: [/fa_thr/, FIX] },
  { name: "options: unknown enum value", setup: (d, c) => viaManifest(d, c, { subjects: [subject(c, { options: { denoise_method: "magic" } })] }), code: PREFLIGHT, stderr: [/denoise_method/, FIX] },
  { name: "options: unknown key", setup: (d, c) => viaManifest(d, c, { options: { fa_threshold: 0.2 }, subjects: [subject(c)] }), code: PREFLIGHT, stderr: [/fa_threshold/, FIX] },
  { name: "options: voxel size with two numbers", setup: (d, c) => viaManifest(d, c, { options: { target_voxel_size: [1, 2] }, subjects: [subject(c)] }), code: PREFLIGHT, stderr: [/target_voxel_size/, FIX] },
  { name: "options: NaN-like string seed_density", setup: (d, c) => viaManifest(d, c, { options: { seed_density: "NaN" }, subjects: [subject(c)] }), code: PREFLIGHT, stderr: [/seed_density/, FIX] },
  // --- duplicates
  { name: "duplicate subject", setup: (d, c) => viaManifest(d, c, { subjects: [subject(c), subject(c)] }), code: PREFLIGHT, stderr: [/sub-01/, /2 times|twice|duplicate/i, FIX] },
  { name: "duplicate subject/session", setup: (d, c) => viaManifest(d, c, { subjects: [subject(c, { session: "ses-01" }), subject(c, { session: "01" })] }), code: PREFLIGHT, stderr: [/sub-01/, FIX] },
  // --- hostile ids (shown escaped, never used as paths)
  { name: "id with a slash", setup: withId("sub-01/../../etc"), code: PREFLIGHT, stderr: [/sub-01\/\.\.\/\.\.\/etc/, /only ASCII letters and digits/] },
  { name: "id '..'", setup: withId(".."), code: PREFLIGHT, stderr: [/"\.\."/, /only ASCII/] },
  { name: "id with a space", setup: withId("sub-0 1"), code: PREFLIGHT, stderr: [/"sub-0 1"/] },
  { name: "id with quotes", setup: withId(`sub-01'"`), code: PREFLIGHT, stderr: [/sub-01'/] },
  { name: "id with $()", setup: withId("sub-$(touch PWNED)"), code: PREFLIGHT, stderr: [/\$\(touch PWNED\)/] },
  { name: "id with backticks", setup: withId("sub-`touch PWNED`"), code: PREFLIGHT, stderr: [/`touch PWNED`/] },
  { name: "id with a newline", setup: withId("sub-01\nsub-02"), code: PREFLIGHT, stderr: [/sub-01\\nsub-02/] },
  { name: "id with a unicode look-alike digit", setup: withId("sub-0\uff11"), code: PREFLIGHT, stderr: [/\\uff11/] },
  { name: "id with a Cyrillic look-alike letter", setup: withId("sub-\u0430bc"), code: PREFLIGHT, stderr: [/\\u0430/] },
  { name: "id very long (10,000 chars)", setup: withId(`sub-${"a".repeat(10_000)}`), code: PREFLIGHT, stderr: [/too long/] },
  { name: "id empty", setup: withId(""), code: PREFLIGHT, stderr: [/id/, FIX] },
  { name: "session with a slash", setup: withSession("ses-01/../x"), code: PREFLIGHT, stderr: [/ses-01\/\.\.\/x/] },
  { name: "session with $()", setup: withSession("$(id)"), code: PREFLIGHT, stderr: [/\$\(id\)/] },
  // --- input paths
  { name: "nifti missing", setup: (d, c) => viaManifest(d, c, { subjects: [subject(c, { nifti: path.join(d, "gone.nii.gz") })] }), code: PREFLIGHT, stderr: [/gone\.nii\.gz/, FIX] },
  { name: "nifti is a folder", setup: (d, c) => viaManifest(d, c, { subjects: [subject(c, { nifti: d })] }), code: PREFLIGHT, stderr: [FIX] },
  { name: "dicom is a file", setup: (d, c) => viaManifest(d, c, { subjects: [{ id: "sub-01", dicom: c.nifti }] }), code: PREFLIGHT, stderr: [/not a folder/, FIX] },
  { name: "series_uid without dicom", setup: (d, c) => viaManifest(d, c, { subjects: [subject(c, { series_uid: "1.2.3" })] }), code: INVALID_MANIFEST, stderr: [/series_uid/, FIX] },
  {
    name: "nifti is a symlink loop",
    setup: (d, c) => {
      symlinkSync(path.join(d, "loop-b.nii.gz"), path.join(d, "loop-a.nii.gz"));
      symlinkSync(path.join(d, "loop-a.nii.gz"), path.join(d, "loop-b.nii.gz"));
      return viaManifest(d, c, { subjects: [subject(c, { nifti: path.join(d, "loop-a.nii.gz") })] });
    },
    code: PREFLIGHT,
    stderr: [/loop-a\.nii\.gz/, FIX],
  },
  // --- BIDS trees
  { name: "BIDS dir missing", setup: (d, c) => plan(c, "--bids-dir", path.join(d, "no-such-bids")), code: PREFLIGHT, stderr: [/no-such-bids/, FIX] },
  {
    name: "BIDS dir is a file",
    setup: (d, c) => {
      writeFileSync(path.join(d, "bids-file"), "x");
      return plan(c, "--bids-dir", path.join(d, "bids-file"));
    },
    code: PREFLIGHT,
    stderr: [/bids-file/, /not a folder/, FIX],
  },
  {
    name: "BIDS dir empty",
    setup: (d, c) => {
      mkdirSync(path.join(d, "empty-bids"));
      return plan(c, "--bids-dir", path.join(d, "empty-bids"));
    },
    code: PREFLIGHT,
    stderr: [/empty-bids/, FIX],
  },
  {
    name: "BIDS tree with symlink loops",
    setup: async (d, c) => {
      const bids = path.join(d, "loopy");
      await fsp.cp(c.bids, bids, { recursive: true });
      symlinkSync("..", path.join(bids, "sub-02", "dwi", "up"));
      symlinkSync(path.join(bids, "sub-02"), path.join(bids, "sub-02", "self"));
      symlinkSync(path.join(bids, "sub-99"), path.join(bids, "sub-99"));
      return plan(c, "--bids-dir", bids);
    },
    // The looping subject is an error naming the link, with the --exclude fix; never a hang.
    code: PREFLIGHT,
    stderr: [/sub-99 is a symlink loop/, /--exclude sub-99/],
    maxMs: 30_000,
  },
  {
    name: "BIDS subject folder with shell characters in its name",
    setup: async (d, c) => {
      const bids = path.join(d, "shelly");
      await fsp.cp(c.bids, bids, { recursive: true });
      await fsp.rename(path.join(bids, "sub-02"), path.join(bids, "sub-$(touch PWNED)"));
      return plan(c, "--bids-dir", bids);
    },
    // Rejected by name; the suggested --exclude is single-quoted, so pasting it runs nothing.
    code: PREFLIGHT,
    stderr: [/"sub-\$\(touch PWNED\)" is not valid/, /--exclude 'sub-\$\(touch PWNED\)'/],
  },
  // --- flags
  { name: "flag: --timeout-minutes negative", setup: (d, c) => plan(c, "--bids-dir", c.bids, "--timeout-minutes", "-1"), code: USAGE, stderr: [/--timeout-minutes/] },
  { name: "flag: --timeout-minutes not a number", setup: (d, c) => plan(c, "--bids-dir", c.bids, "--timeout-minutes", "soon"), code: USAGE, stderr: [/--timeout-minutes/, /soon/] },
  { name: "flag: --grace-seconds NaN", setup: (d, c) => plan(c, "--bids-dir", c.bids, "--grace-seconds", "NaN"), code: USAGE, stderr: [/--grace-seconds/] },
  { name: "flag: --fa-thr out of range", setup: (d, c) => plan(c, "--bids-dir", c.bids, "--fa-thr", "99"), code: PREFLIGHT, stderr: [/fa_thr|--fa-thr/] },
  { name: "flag: --denoise-method not in the enum", setup: (d, c) => plan(c, "--bids-dir", c.bids, "--denoise-method", "magic"), code: USAGE, stderr: [/magic/, /mppca/] },
  { name: "flag: --target-voxel-size with two numbers", setup: (d, c) => plan(c, "--bids-dir", c.bids, "--target-voxel-size", "1", "2"), code: USAGE, stderr: [/--target-voxel-size/, /three/] },
  { name: "flag: both --bids-dir and --manifest", setup: (d, c) => plan(c, "--bids-dir", c.bids, "--manifest", writeManifest(d, { subjects: [subject(c)] })), code: USAGE, stderr: [/either --bids-dir or --manifest/] },
  { name: "flag: neither --bids-dir nor --manifest", setup: (d, c) => plan(c), code: USAGE, stderr: [/--bids-dir DIR or --manifest FILE/] },
  { name: "flag: unknown flag", setup: (d, c) => plan(c, "--bids-dir", c.bids, "--frobnicate"), code: USAGE, stderr: [/frobnicate/] },
  { name: "flag: --out is a file", setup: (d, c) => { writeFileSync(path.join(d, "out-file"), "x"); return ["plan", "--bids-dir", c.bids, "--out", path.join(d, "out-file"), "--csttool", c.standin, "--skip-disk-check"]; }, code: PREFLIGHT, stderr: [/out-file/, /not a folder/] },
  { name: "submit: --scheduler unknown", setup: (d, c) => ["submit", "--scheduler", "lsf", "--bids-dir", c.bids, "--out", "{out}", "--csttool", c.standin], code: USAGE, stderr: [/--scheduler/, /lsf/] },
  { name: "submit local --dry-run: --jobs 0", setup: (d, c) => ["submit", "--scheduler", "local", "--dry-run", "--jobs", "0", "--bids-dir", c.bids, "--out", "{out}", "--csttool", c.standin], code: USAGE, stderr: [/--jobs/] },
  { name: "submit local --dry-run: bad manifest", setup: (d, c) => ["submit", "--scheduler", "local", "--dry-run", "--manifest", writeManifest(d, { subjects: [{ id: "sub-01" }] }), "--out", "{out}", "--csttool", c.standin], code: INVALID_MANIFEST, stderr: [/exactly one/] },
  { name: "manifest init: file exists", setup: (d) => { writeFileSync(path.join(d, "exists.jsonc"), "{}"); return ["manifest", "init", path.join(d, "exists.jsonc")]; }, code: USAGE, stderr: [/exists\.jsonc/, /--force/] },
  { name: "manifest init: folder missing", setup: (d) => ["manifest", "init", path.join(d, "no", "such", "dir", "m.jsonc")], code: USAGE, stderr: [/m\.jsonc/, FIX] },
  { name: "csttool: not executable", setup: (d, c) => { writeFileSync(path.join(d, "csttool"), "#!/bin/sh\n"); return ["plan", "--bids-dir", c.bids, "--out", "{out}", "--csttool", path.join(d, "csttool"), "--skip-disk-check"]; }, code: PREFLIGHT, stderr: [/csttool/, FIX] },
];
