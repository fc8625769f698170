import { promises as fsp, type Dirent } from "node:fs";
import path from "node:path";
import type { DicomSeries } from "../schemas/records.js";
import { FS_CONCURRENCY, mapLimit } from "./pool.js";

/**
 * DICOM series detection without reading pixel data: the first 8 KiB of each file (64 KiB when
 * the header is longer), the file meta group in explicit VR little endian, then the dataset in
 * explicit or implicit VR little endian per the TransferSyntaxUID, stopping at the first tag
 * after SeriesNumber (0020,0011) or at PixelData (7FE0,0010).
 */
export const DICOM_HEADER_FIRST_READ = 8 * 1024;
export const DICOM_HEADER_MAX_READ = 64 * 1024;

const TAG_TRANSFER_SYNTAX = 0x00020010;
const TAG_SERIES_DESCRIPTION = 0x0008103e;
const TAG_SERIES_UID = 0x0020000e;
const TAG_SERIES_NUMBER = 0x00200011;
const TAG_PIXEL_DATA = 0x7fe00010;
const TAG_ITEM = 0xfffee000;
const TAG_ITEM_END = 0xfffee00d;
const TAG_SEQUENCE_END = 0xfffee0dd;
const UNDEFINED_LENGTH = 0xffffffff;

export const IMPLICIT_VR_LE = "1.2.840.10008.1.2";
export const EXPLICIT_VR_LE = "1.2.840.10008.1.2.1";
const UNSUPPORTED_SYNTAXES: Record<string, string> = {
  "1.2.840.10008.1.2.2": "explicit VR big endian",
  "1.2.840.10008.1.2.1.99": "deflated explicit VR little endian",
};
const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"]);

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

class Truncated extends Error {}
class Invalid extends Error {}

/** Parse the header of a DICOM file from its first bytes; `complete` says the buffer is the whole file. */
export function parseDicomHeader(buf: Buffer, opts: { complete: boolean; allowNoPreamble?: boolean }): DicomParseResult {
  const header: DicomHeader = { transfer_syntax: null, series_uid: null, series_number: null, series_description: null };
  let start: number;
  if (buf.length >= 132 && buf.toString("latin1", 128, 132) === "DICM") {
    start = 132;
  } else if (opts.allowNoPreamble && buf.length >= 8) {
    start = 0;
  } else {
    return { kind: "not-dicom" };
  }
  const r = new Reader(buf, opts.complete);
  try {
    r.pos = start;
    let explicit = true;
    // File meta group (0002): always explicit VR little endian.
    if (r.has(2) && buf.readUInt16LE(start) === 0x0002) {
      while (r.has(2) && buf.readUInt16LE(r.pos) === 0x0002) {
        const el = r.element(true);
        if (el.tag === TAG_TRANSFER_SYNTAX) header.transfer_syntax = r.text(el.offset, el.length);
        r.pos = el.offset + el.length;
      }
      const ts = header.transfer_syntax;
      if (ts !== null && UNSUPPORTED_SYNTAXES[ts]) return { kind: "invalid", reason: `unsupported transfer syntax ${ts} (${UNSUPPORTED_SYNTAXES[ts]})` };
      explicit = ts !== IMPLICIT_VR_LE;
    } else if (start === 0) {
      // No preamble and no meta group: old-style raw dataset, guess the VR form from the first element.
      explicit = r.has(6) && /^[A-Z]{2}$/.test(buf.toString("latin1", 4, 6));
    } else {
      explicit = true;
    }
    while (r.has(1)) {
      const el = r.element(explicit);
      if (el.tag > TAG_SERIES_NUMBER || el.tag === TAG_PIXEL_DATA) break;
      if (el.length === UNDEFINED_LENGTH) {
        r.pos = r.skipSequence(el.offset, explicit && el.vr !== "UN");
        continue;
      }
      if (el.tag === TAG_SERIES_UID) header.series_uid = r.text(el.offset, el.length);
      else if (el.tag === TAG_SERIES_NUMBER) header.series_number = r.text(el.offset, el.length);
      else if (el.tag === TAG_SERIES_DESCRIPTION) header.series_description = r.text(el.offset, el.length);
      r.skipTo(el.offset + el.length);
    }
  } catch (e) {
    if (e instanceof Truncated) return { kind: "truncated", header };
    if (e instanceof Invalid) return { kind: "invalid", reason: e.message };
    throw e;
  }
  return { kind: "ok", header };
}

class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly complete: boolean,
  ) {}

  has(n: number): boolean {
    return this.pos + n <= this.buf.length;
  }

  need(end: number): void {
    if (end > this.buf.length) {
      if (this.complete) throw new Invalid(`the file ends inside an element at byte ${this.buf.length}`);
      throw new Truncated();
    }
  }

  skipTo(end: number): void {
    // Skipping past the buffer is fine only if we never need to read there; the caller's loop ends.
    if (end > this.buf.length && !this.complete) throw new Truncated();
    this.pos = end;
  }

  element(explicit: boolean): { tag: number; vr: string | null; offset: number; length: number } {
    const b = this.buf;
    this.need(this.pos + 8);
    const group = b.readUInt16LE(this.pos);
    const elem = b.readUInt16LE(this.pos + 2);
    const tag = ((group << 16) | elem) >>> 0;
    if (group === 0xfffe) {
      return { tag, vr: null, offset: this.pos + 8, length: b.readUInt32LE(this.pos + 4) };
    }
    if (!explicit) {
      return { tag, vr: null, offset: this.pos + 8, length: b.readUInt32LE(this.pos + 4) };
    }
    const vr = b.toString("latin1", this.pos + 4, this.pos + 6);
    if (!/^[A-Z]{2}$/.test(vr)) throw new Invalid(`bad value representation at byte ${this.pos + 4}`);
    if (LONG_VRS.has(vr)) {
      this.need(this.pos + 12);
      return { tag, vr, offset: this.pos + 12, length: b.readUInt32LE(this.pos + 8) };
    }
    return { tag, vr, offset: this.pos + 8, length: b.readUInt16LE(this.pos + 6) };
  }

  text(offset: number, length: number): string {
    this.need(offset + length);
    return this.buf
      .toString("latin1", offset, offset + length)
      .replace(/[\0 ]+$/, "")
      .replace(/^ +/, "");
  }

  /** Skip an undefined-length sequence starting at `offset` (its first item); returns the end. */
  skipSequence(offset: number, explicit: boolean): number {
    this.pos = offset;
    for (;;) {
      const el = this.element(explicit);
      if (el.tag === TAG_SEQUENCE_END) return el.offset;
      if (el.tag !== TAG_ITEM) throw new Invalid(`expected a sequence item at byte ${this.pos}`);
      if (el.length === UNDEFINED_LENGTH) {
        this.pos = this.skipItem(el.offset, explicit);
      } else {
        this.need(el.offset + el.length);
        this.pos = el.offset + el.length;
      }
    }
  }

  /** Skip the elements of an undefined-length item; returns the end of its delimiter. */
  skipItem(offset: number, explicit: boolean): number {
    this.pos = offset;
    for (;;) {
      const el = this.element(explicit);
      if (el.tag === TAG_ITEM_END) return el.offset;
      if (el.length === UNDEFINED_LENGTH) {
        this.pos = this.skipSequence(el.offset, explicit && el.vr !== "UN");
      } else {
        this.need(el.offset + el.length);
        this.pos = el.offset + el.length;
      }
    }
  }
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
