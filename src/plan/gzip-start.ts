/**
 * The first bytes of a gzip file's data, decoded in JavaScript (issue 21: plan ≤ 3x `find`). The
 * NIfTI header check needs 4 decompressed bytes; a zlib handle per file (zlib.gunzipSync) cost
 * ~10 µs each, most of the check. This decoder follows RFC 1951 as zlib's own small reference
 * decoder (puff.c) does: stored, fixed and dynamic Huffman blocks, back-references, and puff's
 * checks on the code tables (over-subscribed or incomplete sets are refused). It stops as soon as
 * `want` bytes are out. It answers null whenever it cannot give them (not gzip, an unknown flag,
 * a table it refuses, the data ends first): the caller then asks zlib, which says why.
 */

const MAX_BITS = 15;
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** Thrown inside the decoder: the answer is null. */
class Unsure extends Error {}
const UNSURE = new Unsure();

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  count: Uint16Array;
  symbol: Uint16Array;
}

/**
 * The code for `lengths[0..n)`. An over-subscribed set is refused; an incomplete one only where
 * puff allows it: `incompleteOk` (the fixed distance code), or a set of a single one-bit code.
 */
function huffman(lengths: ArrayLike<number>, n: number, incompleteOk = false): Huffman {
  const count = new Uint16Array(MAX_BITS + 1);
  for (let s = 0; s < n; s++) count[lengths[s]!]!++;
  const symbol = new Uint16Array(n);
  if (count[0] === n) return { count, symbol }; // no codes: decoding with it fails
  let left = 1;
  for (let len = 1; len <= MAX_BITS; len++) {
    left <<= 1;
    left -= count[len]!;
    if (left < 0) throw UNSURE;
  }
  if (left > 0 && !incompleteOk && n !== count[0]! + count[1]!) throw UNSURE;
  const offs = new Uint16Array(MAX_BITS + 1);
  for (let len = 1; len < MAX_BITS; len++) offs[len + 1] = offs[len]! + count[len]!;
  for (let s = 0; s < n; s++) if (lengths[s] !== 0) symbol[offs[lengths[s]!]!++] = s;
  return { count, symbol };
}

let fixed: { lit: Huffman; dist: Huffman } | null = null;

function fixedCodes(): { lit: Huffman; dist: Huffman } {
  if (fixed === null) {
    const l = new Uint8Array(288);
    l.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
    fixed = { lit: huffman(l, 288), dist: huffman(new Uint8Array(30).fill(5), 30, true) };
  }
  return fixed;
}

class Bits {
  private bitBuf = 0;
  private bitCnt = 0;
  constructor(
    private readonly data: Uint8Array,
    public pos: number,
  ) {}

  need(n: number): number {
    let val = this.bitBuf;
    while (this.bitCnt < n) {
      if (this.pos >= this.data.length) throw UNSURE;
      val |= this.data[this.pos++]! << this.bitCnt;
      this.bitCnt += 8;
    }
    this.bitBuf = val >>> n;
    this.bitCnt -= n;
    return val & ((1 << n) - 1);
  }

  /** Drop the bits left of the current byte (a stored block starts on a byte). */
  align(): void {
    this.bitBuf = 0;
    this.bitCnt = 0;
  }

  decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= MAX_BITS; len++) {
      code |= this.need(1);
      const count = h.count[len]!;
      if (code - count < first) return h.symbol[index + (code - first)]!;
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    throw UNSURE;
  }
}

/** Where the deflate data of a gzip member starts, or -1 (not gzip, or a header this leaves to zlib). */
function dataStart(b: Uint8Array): number {
  if (b.length < 10 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8 || (b[3]! & 0xe0) !== 0) return -1;
  const flags = b[3]!;
  let p = 10;
  if ((flags & 4) !== 0) {
    if (p + 2 > b.length) return -1;
    p += 2 + (b[p]! | (b[p + 1]! << 8));
  }
  for (const bit of [8, 16]) {
    if ((flags & bit) === 0) continue;
    while (p < b.length && b[p] !== 0) p++;
    p++;
  }
  // A header crc: zlib checks it (this does not), so zlib decides.
  if ((flags & 2) !== 0) return -1;
  return p < b.length ? p : -1;
}

/** The first `want` decompressed bytes of the gzip data starting `prefix`, or null when this decoder cannot tell. */
export function gzipStart(prefix: Uint8Array, want: number): Buffer | null {
  const start = dataStart(prefix);
  if (start < 0) return null;
  const out = Buffer.alloc(want);
  let n = 0;
  const bits = new Bits(prefix, start);
  try {
    for (;;) {
      const last = bits.need(1);
      const type = bits.need(2);
      if (type === 0) {
        bits.align();
        const p = bits.pos;
        if (p + 4 > prefix.length) return null;
        const len = prefix[p]! | (prefix[p + 1]! << 8);
        if ((prefix[p + 2]! | (prefix[p + 3]! << 8)) !== (~len & 0xffff)) return null;
        const take = Math.min(len, want - n, prefix.length - p - 4);
        out.set(prefix.subarray(p + 4, p + 4 + take), n);
        n += take;
        if (n === want) return out;
        if (take < len) return null;
        bits.pos = p + 4 + len;
      } else if (type === 1 || type === 2) {
        const { lit, dist } = type === 1 ? fixedCodes() : dynamicCodes(bits);
        for (;;) {
          const sym = bits.decode(lit);
          if (sym < 256) {
            out[n++] = sym;
            if (n === want) return out;
          } else if (sym === 256) {
            break;
          } else {
            const l = sym - 257;
            if (l >= 29) return null;
            let len = LENGTH_BASE[l]! + bits.need(LENGTH_EXTRA[l]!);
            const d = bits.decode(dist);
            if (d >= 30) return null;
            const back = DIST_BASE[d]! + bits.need(DIST_EXTRA[d]!);
            if (back > n) return null;
            for (; len > 0; len--) {
              out[n] = out[n - back]!;
              n++;
              if (n === want) return out;
            }
          }
        }
      } else {
        return null;
      }
      if (last === 1) return null;
    }
  } catch (e) {
    if (e instanceof Unsure) return null;
    throw e;
  }
}

/** A dynamic block's literal/length and distance codes (RFC 1951 3.2.7). */
function dynamicCodes(bits: Bits): { lit: Huffman; dist: Huffman } {
  const nlen = bits.need(5) + 257;
  const ndist = bits.need(5) + 1;
  const ncode = bits.need(4) + 4;
  if (nlen > 286 || ndist > 30) throw UNSURE;
  const lengths = new Uint8Array(316);
  for (let i = 0; i < ncode; i++) lengths[CODE_LENGTH_ORDER[i]!] = bits.need(3);
  const lencode = huffman(lengths, 19);
  // The code-length code must be complete (puff: a single one-bit code is not enough here).
  if (lencode.count[0] !== 19 && lencode.count[0]! + lencode.count[1]! === 19 && lencode.count[1] === 1) throw UNSURE;
  lengths.fill(0, 0, 19);
  let i = 0;
  while (i < nlen + ndist) {
    let sym = bits.decode(lencode);
    if (sym < 16) {
      lengths[i++] = sym;
      continue;
    }
    let len = 0;
    if (sym === 16) {
      if (i === 0) throw UNSURE;
      len = lengths[i - 1]!;
      sym = 3 + bits.need(2);
    } else if (sym === 17) sym = 3 + bits.need(3);
    else sym = 11 + bits.need(7);
    if (i + sym > nlen + ndist) throw UNSURE;
    while (sym-- > 0) lengths[i++] = len;
  }
  if (lengths[256] === 0) throw UNSURE;
  const lit = huffman(lengths.subarray(0, nlen), nlen);
  const dist = huffman(lengths.subarray(nlen, nlen + ndist), ndist);
  return { lit, dist };
}
