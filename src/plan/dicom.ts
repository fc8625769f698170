import { promises as fsp, type Dirent } from "node:fs";
import path from "node:path";
import { constants as zlibConstants, inflateRawSync } from "node:zlib";
import dicomParser from "dicom-parser";
import type { DicomSeries } from "../schemas/records.js";
import { FS_CONCURRENCY, mapLimit } from "./pool.js";

/**
 * DICOM series detection without reading pixel data: the first 8 KiB of each file (64 KiB when
 * the header is longer) go to dicom-parser (cornerstone's), which reads the file meta group and
 * the dataset in implicit or explicit VR little endian, explicit VR big endian or deflated explicit
 * VR little endian (inflated here, from that prefix only), and stops at SeriesNumber (0020,0011).
 */
export const DICOM_HEADER_FIRST_READ = 8 * 1024;
export const DICOM_HEADER_MAX_READ = 64 * 1024;
/** Most bytes a deflated dataset's prefix is inflated to: a header is a few KiB, pixel data is not wanted. */
const DICOM_INFLATED_MAX = 1024 * 1024;

const TAG_TRANSFER_SYNTAX = "x00020010";
const TAG_SERIES_DESCRIPTION = "x0008103e";
const TAG_SERIES_UID = "x0020000e";
const TAG_SERIES_NUMBER = "x00200011";

export const IMPLICIT_VR_LE = "1.2.840.10008.1.2";
export const EXPLICIT_VR_LE = "1.2.840.10008.1.2.1";

export interface DicomHeader {
  transfer_syntax: string | null;
  series_uid: string | null;
  series_number: string | null;
  series_description: string | null;
}

export type DicomParseResult =
  | { kind: "ok"; header: DicomHeader }
  | { kind: "truncated"; header: DicomHeader }
  | { kind: "not-dicom" }
  | { kind: "invalid"; reason: string };

/** Parse the header of a DICOM file from its first bytes; `complete` says the buffer is the whole file. */
export function parseDicomHeader(buf: Buffer, opts: { complete: boolean; allowNoPreamble?: boolean }): DicomParseResult {
  const header: DicomHeader = { transfer_syntax: null, series_uid: null, series_number: null, series_description: null };
  const part10 = buf.length >= 132 && buf.toString("latin1", 128, 132) === "DICM";
  if (!part10 && !(opts.allowNoPreamble && buf.length >= 8)) return { kind: "not-dicom" };
  const options: dicomParser.ParseDicomOptions = { untilTag: TAG_SERIES_NUMBER, inflater: inflatePrefix as dicomParser.ParseDicomOptions["inflater"] };
  // No preamble and no meta group: an old-style raw dataset, its VR form guessed from the first element.
  if (!part10) options.TransferSyntaxUID = /^[A-Z]{2}$/.test(buf.toString("latin1", 4, 6)) ? EXPLICIT_VR_LE : IMPLICIT_VR_LE;
  let dataSet: dicomParser.DataSet | undefined;
  let failure: unknown = null;
  try {
    dataSet = dicomParser.parseDicom(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), options);
  } catch (e) {
    // dicom-parser throws { exception, dataSet } once the dataset has started, a string or an Error before.
    const partial = e as { exception?: unknown; dataSet?: dicomParser.DataSet };
    dataSet = typeof e === "object" && e !== null && "dataSet" in partial ? partial.dataSet : undefined;
    failure = dataSet ? partial.exception : e;
  }
  if (!dataSet) return opts.complete ? { kind: "invalid", reason: describeFailure(failure) } : { kind: "truncated", header };
  const elements = dataSet.elements;
  // Past SeriesNumber's place: every field cst-batch reads has been seen (or is absent).
  const passed = Object.keys(elements).some((tag) => tag >= TAG_SERIES_NUMBER);
  const fields: [keyof DicomHeader, string][] = [
    ["transfer_syntax", TAG_TRANSFER_SYNTAX],
    ["series_uid", TAG_SERIES_UID],
    ["series_number", TAG_SERIES_NUMBER],
    ["series_description", TAG_SERIES_DESCRIPTION],
  ];
  for (const [field, tag] of fields) {
    const el = elements[tag];
    if (!el) continue;
    // The meta group's elements lie in `buf`, the dataset's in dataSet.byteArray (the inflated bytes
    // when deflated); a raw file's transfer syntax comes as a Value.
    const bytes = tag.startsWith("x0002") ? buf : dataSet.byteArray;
    if (el.dataOffset === undefined || el.dataOffset + el.length > bytes.length) {
      if ((el as { Value?: string }).Value !== undefined) header[field] = String((el as { Value?: string }).Value);
      else if (!opts.complete) return { kind: "truncated", header };
      else return { kind: "invalid", reason: `the file ends inside element (${tag.slice(1, 5)},${tag.slice(5)})` };
      continue;
    }
    header[field] = dicomParser.readFixedString(bytes, el.dataOffset, el.length).trim() || null;
  }
  if (!passed && !opts.complete) return { kind: "truncated", header };
  if (!passed && failure !== null) return { kind: "invalid", reason: describeFailure(failure) };
  return { kind: "ok", header };
}

/**
 * The deflated dataset at `position`, inflated from the bytes at hand (a prefix of the file:
 * Z_SYNC_FLUSH takes a cut stream), at most DICOM_INFLATED_MAX bytes: past that, fewer input bytes
 * are inflated (the header comes first). The dataset alone: dicom-parser 1.8.21 parses what its
 * inflater returns from offset 0, so the header bytes in front would be read as elements.
 */
function inflatePrefix(bytes: Uint8Array, position: number): Uint8Array {
  let deflated = bytes.subarray(position);
  for (;;) {
    try {
      const inflated = inflateRawSync(deflated, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: DICOM_INFLATED_MAX });
      return inflated;
    } catch (e) {
      if (!(e instanceof RangeError) || deflated.length < 2) throw e;
      deflated = deflated.subarray(0, deflated.length >> 1);
    }
  }
}

/** dicom-parser's failure (a string, an Error, or what a callback threw) as one line. */
function describeFailure(failure: unknown): string {
  const text = failure instanceof Error ? failure.message : String(failure);
  return text.replace(/^dicomParser[.:]\S*:?\s*/, "");
}

/** One DICOM file with the header fields cst-batch uses. */
export interface DicomFileInfo {
  path: string;
  size: number;
  mtime_ms: number;
  series_uid: string;
  series_number: string | null;
  series_description: string | null;
}

export type DicomFileResult =
  | { kind: "dicom"; file: DicomFileInfo }
  | { kind: "not-dicom" }
  | { kind: "invalid"; path: string; reason: string };

/** Extensions that are never DICOM: their files are not opened. */
const NOT_DICOM_EXT = new Set([".json", ".txt", ".nii", ".gz", ".bval", ".bvec", ".tsv", ".csv", ".md", ".xml", ".html", ".pdf", ".png", ".jpg", ".jpeg", ".log", ".zip", ".tar", ".py", ".sh"]);
const DICOM_EXT = new Set([".dcm", ".ima", ".dicom"]);

/** Whether a file name is worth opening to look for DICOM. */
export function isDicomCandidateName(name: string): boolean {
  if (name.startsWith(".")) return false;
  const ext = path.extname(name).toLowerCase();
  return !NOT_DICOM_EXT.has(ext);
}

async function readPrefix(handle: fsp.FileHandle, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buf, filled, length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buf : buf.subarray(0, filled);
}

/** Read one file's series fields; files without the DICM magic are `not-dicom` unless named .dcm/.ima. */
export async function readDicomFile(file: string): Promise<DicomFileResult> {
  const named = DICOM_EXT.has(path.extname(file).toLowerCase());
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, "r");
  } catch (e) {
    return named ? { kind: "invalid", path: file, reason: `cannot open: ${(e as Error).message}` } : { kind: "not-dicom" };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { kind: "not-dicom" };
    let length = Math.min(st.size, DICOM_HEADER_FIRST_READ);
    let result: DicomParseResult;
    for (;;) {
      const buf = await readPrefix(handle, length);
      result = parseDicomHeader(buf, { complete: buf.length >= st.size, allowNoPreamble: named });
      if (result.kind !== "truncated" || length >= Math.min(st.size, DICOM_HEADER_MAX_READ)) break;
      length = Math.min(st.size, DICOM_HEADER_MAX_READ);
    }
    if (result.kind === "not-dicom") {
      return named ? { kind: "invalid", path: file, reason: "no DICM marker at byte 128" } : { kind: "not-dicom" };
    }
    if (result.kind === "invalid") return { kind: "invalid", path: file, reason: result.reason };
    if (!result.header.series_uid) {
      if (!named && st.size < 132) return { kind: "not-dicom" };
      return { kind: "invalid", path: file, reason: `no SeriesInstanceUID (0020,000E) in the first ${Math.min(st.size, DICOM_HEADER_MAX_READ)} bytes` };
    }
    return {
      kind: "dicom",
      file: {
        path: file,
        size: st.size,
        mtime_ms: st.mtimeMs,
        series_uid: result.header.series_uid,
        series_number: result.header.series_number || null,
        series_description: result.header.series_description || null,
      },
    };
  } finally {
    await handle.close().catch(() => {});
  }
}

export interface DicomSeriesGroup extends DicomSeries {
  files: DicomFileInfo[];
}

export interface DicomScan {
  dir: string;
  series: DicomSeriesGroup[];
  /** Files that looked like DICOM (.dcm, or the DICM marker) but could not be read. */
  invalid: { path: string; reason: string }[];
}

/**
 * Read the series of every DICOM file directly in `dir` (not recursive). `entries` may pass a
 * listing already made, so the folder is not read twice.
 */
export async function scanDicomDir(dir: string, entries?: readonly Dirent[]): Promise<DicomScan> {
  const list = entries ?? (await fsp.readdir(dir, { withFileTypes: true }));
  const names = list.filter((d) => (d.isFile() || d.isSymbolicLink()) && isDicomCandidateName(d.name)).map((d) => d.name);
  const results = await mapLimit(names, FS_CONCURRENCY, (name) => readDicomFile(path.join(dir, name)));
  const files: DicomFileInfo[] = [];
  const invalid: DicomScan["invalid"] = [];
  for (const r of results) {
    if (r.kind === "dicom") files.push(r.file);
    else if (r.kind === "invalid") invalid.push({ path: r.path, reason: r.reason });
  }
  return { dir, series: groupSeries(files), invalid };
}

/** Group files by SeriesInstanceUID; series sorted by number, then uid; files by path. */
export function groupSeries(files: readonly DicomFileInfo[]): DicomSeriesGroup[] {
  const byUid = new Map<string, DicomFileInfo[]>();
  for (const f of files) {
    const list = byUid.get(f.series_uid);
    if (list) list.push(f);
    else byUid.set(f.series_uid, [f]);
  }
  const groups: DicomSeriesGroup[] = [];
  for (const [uid, list] of byUid) {
    list.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const first = list[0] as DicomFileInfo;
    groups.push({
      series_uid: uid,
      series_number: first.series_number,
      series_description: list.find((f) => f.series_description)?.series_description ?? null,
      file_count: list.length,
      files: list,
    });
  }
  const num = (s: string | null): number => (s !== null && /^\s*-?\d+\s*$/.test(s) ? Number(s) : Number.POSITIVE_INFINITY);
  return groups.sort((a, b) => num(a.series_number) - num(b.series_number) || (a.series_uid < b.series_uid ? -1 : a.series_uid > b.series_uid ? 1 : 0));
}

/** One line per series, for problem details: uid, number, description, file count. */
export function describeSeries(s: DicomSeries): string {
  return `series_uid ${s.series_uid} (number ${s.series_number ?? "?"}, ${s.series_description ? JSON.stringify(s.series_description) : "no description"}, ${s.file_count} file${s.file_count === 1 ? "" : "s"})`;
}

/** Size/mtime identity of a series' files, recorded in the plan and checked by run-one. */
export function seriesIdentity(files: readonly DicomFileInfo[]): { file_count: number; total_size: number; newest_mtime_ms: number } {
  let total = 0;
  let newest = 0;
  for (const f of files) {
    total += f.size;
    if (f.mtime_ms > newest) newest = f.mtime_ms;
  }
  return { file_count: files.length, total_size: total, newest_mtime_ms: newest };
}

/**
 * The absolute paths (sorted) of the files of one series in `dir`; run-one links these into the
 * task's `dicom_link_dir` so csttool sees only that series. Empty when the series is not there.
 */
export async function selectDicomSeriesFiles(dir: string, seriesUid: string): Promise<string[]> {
  const abs = path.resolve(dir);
  const scan = await scanDicomDir(abs);
  const group = scan.series.find((s) => s.series_uid === seriesUid);
  return group ? group.files.map((f) => f.path) : [];
}
