import { describe, expect, it } from "vitest";
import { encodePlanIndex } from "../../../src/plan/plan-index.js";

describe("the plan's offsets file", () => {
  it("holds each offset as an unsigned 64-bit little-endian number, offsets past 4 GiB included", () => {
    const starts = [120, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 41 + 12_345];
    const size = 2 ** 45 + 7;
    const buf = encodePlanIndex(starts, size);
    expect(buf.subarray(0, 8).toString("latin1")).toBe("CSTIDX2\n");
    expect(buf.length).toBe(8 + 8 * (starts.length + 1));
    const read = Array.from({ length: starts.length + 1 }, (_, k) => buf.readBigUInt64LE(8 + 8 * k));
    expect(read).toEqual([...starts, size].map((n) => BigInt(n)));
  });
});
