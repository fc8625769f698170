import { constants, deflateRawSync, gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { gzipStart } from "../../../src/plan/gzip-start.js";

/** A deterministic PRNG (the same cases every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** NIfTI-like bytes: a header start, runs of zeros, text, noise. */
function sample(r: () => number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeInt32LE(r() < 0.5 ? 348 : 540, 0);
  for (let i = 4; i < size; ) {
    const kind = Math.floor(r() * 4);
    const n = 1 + Math.floor(r() * 40);
    for (let k = 0; k < n && i < size; k++, i++) b[i] = kind === 0 ? 0 : kind === 1 ? 97 + Math.floor(r() * 6) : kind === 2 ? b[Math.max(0, i - 1 - Math.floor(r() * 8))]! : Math.floor(r() * 256);
  }
  return b;
}

/** The header of a gzip member with the fields a writer may set (extra, name, comment, a header crc of 0). */
function gzipWith(raw: Buffer, flags: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3])];
  if (flags & 4) parts.push(Buffer.from([5, 0, 1, 2, 3, 4, 5]));
  if (flags & 8) parts.push(Buffer.from("sub-01_dwi.nii\0"));
  if (flags & 16) parts.push(Buffer.from("a comment\0"));
  if (flags & 2) parts.push(Buffer.from([0, 0]));
  return Buffer.concat(parts);
}

describe("the first bytes of gzip data decoded without zlib (the NIfTI header check)", () => {
  it("gives zlib's bytes for every level and strategy, stored, fixed and dynamic blocks, with any gzip header fields", () => {
    const r = rng(42);
    let decoded = 0;
    let cases = 0;
    for (let c = 0; c < 400; c++) {
      const raw = sample(r, 8 + Math.floor(r() * 2000));
      const level = Math.floor(r() * 10);
      const strategy = [constants.Z_DEFAULT_STRATEGY, constants.Z_FILTERED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE, constants.Z_FIXED][c % 5]!;
      const flags = [0, 8, 4 | 8 | 16, 16][c % 4]!;
      const file = c % 3 === 0 ? gzipSync(raw, { level, strategy }) : Buffer.concat([gzipWith(raw, flags), deflateRawSync(raw, { level, strategy })]);
      for (const cut of [file.length, 256, 40, 12]) {
        const prefix = file.subarray(0, Math.min(cut, file.length));
        const want = Math.min(4 + (c % 3) * 30, raw.length);
        const got = gzipStart(prefix, want);
        if (cut === file.length) cases++;
        if (got === null) continue;
        if (cut === file.length) decoded++;
        expect(got.equals(raw.subarray(0, want)), `case ${c} cut ${cut}`).toBe(true);
        expect(gunzipSync(prefix, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, want).equals(got)).toBe(true);
      }
    }
    // it answers for every whole file (null only where the data is cut before the bytes asked for)
    expect(decoded).toBe(cases);
  });

  it("answers for the first 256 bytes of a usual .nii.gz (level 6, a stored name), and null for what is not gzip, is damaged or has a header crc", () => {
    const raw = sample(rng(7), 4000);
    const file = Buffer.concat([gzipWith(raw, 8), deflateRawSync(raw)]);
    expect(gzipStart(file.subarray(0, 256), 4)).toEqual(raw.subarray(0, 4));
    expect(gzipStart(raw.subarray(0, 256), 4)).toBeNull();
    expect(gzipStart(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]), 4)).toBeNull(); // block type 3
    expect(gzipStart(Buffer.from([0x1f, 0x8b, 8, 0x20, 0, 0, 0, 0, 0, 3, 0, 0]), 4)).toBeNull(); // a reserved flag
    // a header crc: zlib checks it (and refuses a wrong one), so zlib decides
    const withCrc = Buffer.concat([gzipWith(raw, 2), deflateRawSync(raw)]);
    expect(gzipStart(withCrc.subarray(0, 256), 4)).toBeNull();
    expect(() => gunzipSync(withCrc.subarray(0, 256), { finishFlush: constants.Z_SYNC_FLUSH })).toThrow(/header crc/);
  });
});
