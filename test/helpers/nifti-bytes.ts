import { gzipSync } from "node:zlib";

/**
 * The smallest NIfTI-1 file plan's header check accepts: a 348-byte header (sizeof_hdr 348,
 * magic "n+1"), the 4-byte extension flag and `dataBytes` of data; gzip-compressed for `.nii.gz`.
 */
export function minimalNifti(opts: { gzip?: boolean; dataBytes?: number } = {}): Buffer {
  const raw = Buffer.alloc(352 + (opts.dataBytes ?? 16), 0);
  raw.writeInt32LE(348, 0);
  raw.write("n+1\0", 344, "latin1");
  raw.fill(1, 352);
  return opts.gzip === false ? raw : gzipSync(raw);
}

/** The right bytes for a NIfTI file name: gzip for `.nii.gz`, plain for `.nii`. */
export function minimalNiftiFor(file: string, dataBytes?: number): Buffer {
  return minimalNifti({ gzip: file.endsWith(".gz"), ...(dataBytes !== undefined ? { dataBytes } : {}) });
}
