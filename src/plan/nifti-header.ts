import { closeSync, openSync, readSync } from "node:fs";
import zlib from "node:zlib";
import { errnoCode } from "../errors.js";

/**
 * A look at the first bytes of a NIfTI file, opened as the user who runs `plan`: the file opens,
 * is not empty, a `.nii.gz` is gzip, and the header's `sizeof_hdr` is 348 (NIfTI-1) or 540
 * (NIfTI-2), in either byte order. Only a prefix is read (a few hundred bytes, at most
 * MAX_PREFIX_BYTES when the gzip header is long), never the whole file: planning 10,000
 * subjects costs one open and one small read each.
 */
export type NiftiHeaderCheck =
  | { ok: true; version: 1 | 2 }
  | { ok: false; found: string; fix: string };

/** The first read; enough for the gzip header, the first deflate block's tables and 4 bytes of output. */
const FIRST_READ_BYTES = 256;
/** Never read more than this of any file. */
export const MAX_PREFIX_BYTES = 64 * 1024;
const NIFTI1_SIZEOF_HDR = 348;
const NIFTI2_SIZEOF_HDR = 540;

/** Read up to `length` bytes from the start of an open file. */
function readPrefix(fd: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The decompressed start of a gzip prefix (a truncated stream is fine: no end-of-stream check). */
function inflatePrefix(prefix: Buffer): Buffer | Error {
  try {
    // A small output chunk: only 4 bytes are needed (the default 16 KB buffer per file is most of the cost).
    return zlib.gunzipSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: 1024 });
  } catch (e) {
    return e as Error;
  }
}

/** `sizeof_hdr` of a header start, read in both byte orders. */
function headerVersion(head: Buffer): { version: 1 | 2 } | { found: string } {
  if (head.length < 4) return { found: `only ${head.length} byte(s) of header` };
  const le = head.readInt32LE(0);
  const be = head.readInt32BE(0);
  if (le === NIFTI1_SIZEOF_HDR || be === NIFTI1_SIZEOF_HDR) return { version: 1 };
  if (le === NIFTI2_SIZEOF_HDR || be === NIFTI2_SIZEOF_HDR) return { version: 2 };
  return { found: `sizeof_hdr ${le} (little-endian) / ${be} (big-endian)` };
}

const HEADER_FIX = "check that this is the DWI NIfTI itself and that it is complete (re-export or copy it again)";

const EMPTY: NiftiHeaderCheck = { ok: false, found: "it is empty (0 bytes)", fix: "copy the file again from its source; an interrupted copy leaves an empty file" };

/** Check the start of `file` (`gzip`: named `.nii.gz`); `size` is its size from stat. */
export function checkNiftiHeader(file: string, gzip: boolean, size: number): NiftiHeaderCheck {
  if (size === 0) return EMPTY;
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    return cannotOpen(e);
  }
  try {
    return checkNiftiHeaderOf(fd, gzip, size);
  } finally {
    closeSync(fd);
  }
}

/** The check's answer for a NIfTI that cannot be opened (`e`: the open's error). */
export function cannotOpen(e: unknown): NiftiHeaderCheck {
  const code = errnoCode(e);
  const user = process.getuid ? ` by user ${process.getuid()}` : "";
  return { ok: false, found: `it cannot be opened${user} (${code ?? (e as Error).message})`, fix: "make the file readable by the user who runs cst-batch and csttool (e.g. chmod a+r)" };
}

/** checkNiftiHeader on a NIfTI already open (`fd`, left open). */
export function checkNiftiHeaderOf(fd: number, gzip: boolean, size: number): NiftiHeaderCheck {
  if (size === 0) return EMPTY;
  try {
    if (!gzip) {
      const r = headerVersion(readPrefix(fd, 4));
      return "version" in r ? { ok: true, version: r.version } : { ok: false, found: `not a NIfTI header: ${r.found}; expected 348 (NIfTI-1) or 540 (NIfTI-2)`, fix: HEADER_FIX };
    }
    let prefix = readPrefix(fd, Math.min(size, FIRST_READ_BYTES));
    if (prefix.length < 2 || prefix[0] !== 0x1f || prefix[1] !== 0x8b) {
      const first = [...prefix.subarray(0, 2)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
      return { ok: false, found: `named .nii.gz but not gzip-compressed (first bytes ${first || "none"}, expected 1f 8b)`, fix: "compress it with gzip, or rename it to .nii if it is an uncompressed NIfTI" };
    }
    let head = inflatePrefix(prefix);
    // A long gzip header (file name, comment, extra field) can need more than the first read.
    if (!(head instanceof Error) && head.length < 4 && size > prefix.length) {
      prefix = readPrefix(fd, Math.min(size, MAX_PREFIX_BYTES));
      head = inflatePrefix(prefix);
    }
    if (head instanceof Error) {
      return { ok: false, found: `its gzip data is damaged (${head.message})`, fix: HEADER_FIX };
    }
    const r = headerVersion(head);
    if ("version" in r) return { ok: true, version: r.version };
    return { ok: false, found: `not a NIfTI header after decompression: ${r.found}; expected 348 (NIfTI-1) or 540 (NIfTI-2)`, fix: HEADER_FIX };
  } catch (e) {
    return { ok: false, found: `it cannot be read (${errnoCode(e) ?? (e as Error).message})`, fix: "check the file and the disk it is on" };
  }
}
