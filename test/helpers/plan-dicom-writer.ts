import { promises as fsp } from "node:fs";
import path from "node:path";
import { deflateRawSync } from "node:zlib";

/**
 * Small but valid DICOM files for tests: a 128-byte preamble, "DICM", the file meta group
 * (explicit VR little endian) and an MR dataset in explicit or implicit VR little endian, explicit
 * VR big endian or deflated explicit VR little endian, with the series fields cst-batch reads and
 * a tiny PixelData element.
 */
export interface DicomFileSpec {
  seriesUid: string;
  seriesNumber?: number | string | null;
  seriesDescription?: string | null;
  sopInstanceUid?: string;
  instanceNumber?: number;
  studyUid?: string;
  /** Transfer syntax of the dataset (the file meta is always explicit VR LE). Default explicit. */
  transferSyntax?: TransferSyntaxName;
  /** Put an undefined-length sequence (with an undefined-length item) before the series tags. */
  withSequence?: boolean;
  /** Bytes of a private OB element before the series tags: pushes them past the first read. */
  paddingBytes?: number;
  /** Bytes of pixel data (default 8). */
  pixelBytes?: number;
  /** Leave out the 128-byte preamble and "DICM" (an old-style raw file). */
  noPreamble?: boolean;
}

export type TransferSyntaxName = "explicit" | "implicit" | "explicit-big-endian" | "deflated";
const TRANSFER_SYNTAX_UIDS: Record<TransferSyntaxName, string> = {
  explicit: "1.2.840.10008.1.2.1",
  implicit: "1.2.840.10008.1.2",
  "explicit-big-endian": "1.2.840.10008.1.2.2",
  deflated: "1.2.840.10008.1.2.1.99",
};
const MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4";
const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"]);

function pad(value: Buffer, vr: string): Buffer {
  if (value.length % 2 === 0) return value;
  return Buffer.concat([value, Buffer.from([vr === "UI" || vr === "OB" || vr === "UN" ? 0 : 0x20])]);
}

function tagBytes(group: number, element: number, bigEndian: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (bigEndian) {
    b.writeUInt16BE(group, 0);
    b.writeUInt16BE(element, 2);
  } else {
    b.writeUInt16LE(group, 0);
    b.writeUInt16LE(element, 2);
  }
  return b;
}

function uint(n: number, bytes: 2 | 4, bigEndian: boolean): Buffer {
  const b = Buffer.alloc(bytes);
  if (bytes === 2) bigEndian ? b.writeUInt16BE(n, 0) : b.writeUInt16LE(n, 0);
  else bigEndian ? b.writeUInt32BE(n, 0) : b.writeUInt32LE(n, 0);
  return b;
}

/** One data element in explicit or implicit VR, little endian unless `bigEndian`. */
export function encodeElement(group: number, element: number, vr: string, value: Buffer | string, explicit: boolean, bigEndian = false): Buffer {
  const raw = pad(typeof value === "string" ? Buffer.from(value, "latin1") : value, vr);
  const tag = tagBytes(group, element, bigEndian);
  if (!explicit) return Buffer.concat([tag, uint(raw.length, 4, bigEndian), raw]);
  if (LONG_VRS.has(vr)) return Buffer.concat([tag, Buffer.from(`${vr}\0\0`, "latin1"), uint(raw.length, 4, bigEndian), raw]);
  return Buffer.concat([tag, Buffer.from(vr, "latin1"), uint(raw.length, 2, bigEndian), raw]);
}

function delimiter(element: number, bigEndian: boolean): Buffer {
  return Buffer.concat([tagBytes(0xfffe, element, bigEndian), Buffer.alloc(4)]);
}

/** An undefined-length sequence with one undefined-length item (Referenced Image Sequence). */
function encodeSequence(explicit: boolean, bigEndian: boolean): Buffer {
  const undefinedLength = Buffer.from([0xff, 0xff, 0xff, 0xff]);
  const head = explicit
    ? Buffer.concat([tagBytes(0x0008, 0x1140, bigEndian), Buffer.from("SQ\0\0", "latin1"), undefinedLength])
    : Buffer.concat([tagBytes(0x0008, 0x1140, bigEndian), undefinedLength]);
  const item = Buffer.concat([tagBytes(0xfffe, 0xe000, bigEndian), undefinedLength]);
  const body = Buffer.concat([
    encodeElement(0x0008, 0x1150, "UI", MR_STORAGE, explicit, bigEndian),
    // A decoy: a SeriesInstanceUID inside the sequence must not be taken for the file's own.
    encodeElement(0x0020, 0x000e, "UI", "9.9.9.9", explicit, bigEndian),
  ]);
  return Buffer.concat([head, item, body, delimiter(0xe00d, bigEndian), delimiter(0xe0dd, bigEndian)]);
}

/** The bytes of one DICOM file. */
export function encodeDicom(spec: DicomFileSpec): Buffer {
  const syntax = spec.transferSyntax ?? "explicit";
  const explicit = syntax !== "implicit";
  const bigEndian = syntax === "explicit-big-endian";
  const sop = spec.sopInstanceUid ?? `${spec.seriesUid}.${spec.instanceNumber ?? 1}`;
  const metaBody = Buffer.concat([
    encodeElement(0x0002, 0x0001, "OB", Buffer.from([0, 1]), true),
    encodeElement(0x0002, 0x0002, "UI", MR_STORAGE, true),
    encodeElement(0x0002, 0x0003, "UI", sop, true),
    encodeElement(0x0002, 0x0010, "UI", TRANSFER_SYNTAX_UIDS[syntax], true),
    encodeElement(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.9.7777", true),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length, 0);
  const meta = Buffer.concat([encodeElement(0x0002, 0x0000, "UL", groupLength, true), metaBody]);

  const e = (g: number, el: number, vr: string, v: Buffer | string): Buffer => encodeElement(g, el, vr, v, explicit, bigEndian);
  const parts: Buffer[] = [e(0x0008, 0x0016, "UI", MR_STORAGE), e(0x0008, 0x0018, "UI", sop), e(0x0008, 0x0060, "CS", "MR")];
  if (spec.seriesDescription != null) parts.push(e(0x0008, 0x103e, "LO", spec.seriesDescription));
  if (spec.withSequence) parts.push(encodeSequence(explicit, bigEndian));
  parts.push(e(0x0010, 0x0010, "PN", "Test^Subject"));
  if (spec.paddingBytes) {
    parts.push(e(0x0019, 0x0010, "LO", "CSTBATCH"));
    parts.push(e(0x0019, 0x1010, "OB", Buffer.alloc(spec.paddingBytes, 0x41)));
  }
  parts.push(e(0x0020, 0x000d, "UI", spec.studyUid ?? "1.2.826.0.1.3680043.9.7777.1"));
  parts.push(e(0x0020, 0x000e, "UI", spec.seriesUid));
  if (spec.seriesNumber != null) parts.push(e(0x0020, 0x0011, "IS", String(spec.seriesNumber)));
  parts.push(e(0x0020, 0x0013, "IS", String(spec.instanceNumber ?? 1)));
  parts.push(e(0x0028, 0x0010, "US", uint(2, 2, bigEndian)), e(0x0028, 0x0011, "US", uint(2, 2, bigEndian)));
  parts.push(e(0x7fe0, 0x0010, "OW", Buffer.alloc(spec.pixelBytes ?? 8, 0x7f)));
  // Deflated: the dataset (explicit VR little endian) as one raw deflate stream after the meta group.
  const dataset = syntax === "deflated" ? deflateRawSync(Buffer.concat(parts)) : Buffer.concat(parts);
  if (spec.noPreamble) return dataset;
  return Buffer.concat([Buffer.alloc(128), Buffer.from("DICM", "latin1"), meta, dataset]);
}

export async function writeDicomFile(file: string, spec: DicomFileSpec): Promise<string> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, encodeDicom(spec));
  return file;
}

export interface DicomSeriesSpec extends Omit<DicomFileSpec, "instanceNumber" | "sopInstanceUid"> {
  /** Number of files (default 3). */
  count?: number;
  /** File names: `<prefix><n><extension>`; default prefix from the series number, extension ".dcm". */
  namePrefix?: string;
  /** ".dcm" (default), ".IMA", or "" for extensionless files. */
  extension?: string;
}

/** Write one series into `dir`; returns the absolute file paths, sorted. */
export async function writeDicomSeries(dir: string, spec: DicomSeriesSpec): Promise<string[]> {
  const count = spec.count ?? 3;
  const prefix = spec.namePrefix ?? `s${String(spec.seriesNumber ?? "x")}_`;
  const ext = spec.extension ?? ".dcm";
  const files: string[] = [];
  for (let i = 1; i <= count; i++) {
    const file = path.resolve(dir, `${prefix}${String(i).padStart(4, "0")}${ext}`);
    await writeDicomFile(file, { ...spec, instanceNumber: i });
    files.push(file);
  }
  return files.sort();
}
