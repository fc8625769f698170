import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDicomHeader, readDicomFile } from "../../../src/plan/dicom.js";
import { encodeDicom, writeDicomFile, type TransferSyntaxName } from "../../helpers/plan-dicom-writer.js";
import { makeTempDir } from "../../helpers/plan-bids-maker.js";

const SYNTAXES: [TransferSyntaxName, string][] = [
  ["explicit", "1.2.840.10008.1.2.1"],
  ["implicit", "1.2.840.10008.1.2"],
  ["explicit-big-endian", "1.2.840.10008.1.2.2"],
  ["deflated", "1.2.840.10008.1.2.1.99"],
];

/** Where the dataset starts: after "DICM", the (0002,0000) group length element and the group. */
function datasetStart(buf: Buffer): number {
  return 132 + 12 + buf.readUInt32LE(132 + 8);
}

let tmp: string;
beforeAll(async () => {
  tmp = await makeTempDir("cst-dicom-ts-");
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe.each(SYNTAXES)("DICOM header in %s", (syntax, uid) => {
  it("gives series uid, number and description, and not the uid nested in a sequence", async () => {
    const f = await writeDicomFile(path.join(tmp, `${syntax}.dcm`), { seriesUid: "1.2.40.7", seriesNumber: 12, seriesDescription: "ep2d_diff", transferSyntax: syntax, withSequence: true });
    const r = await readDicomFile(f);
    expect(r.kind === "dicom" && r.file).toMatchObject({ series_uid: "1.2.40.7", series_number: "12", series_description: "ep2d_diff" });
    const h = parseDicomHeader(await fsp.readFile(f), { complete: true });
    expect(h).toEqual({ kind: "ok", header: { transfer_syntax: uid, series_uid: "1.2.40.7", series_number: "12", series_description: "ep2d_diff" } });
  });

  it("reads only the header: a file too big to read whole (3 GiB, sparse) is still read", async () => {
    const f = await writeDicomFile(path.join(tmp, `${syntax}-huge.dcm`), { seriesUid: "1.2.40.8", seriesNumber: 3, transferSyntax: syntax, pixelBytes: 4 * 1024 * 1024 });
    await fsp.truncate(f, 3 * 1024 ** 3);
    await expect(fsp.readFile(f)).rejects.toMatchObject({ code: "ERR_FS_FILE_TOO_LARGE" });
    const r = await readDicomFile(f);
    expect(r.kind === "dicom" && r.file.series_uid).toBe("1.2.40.8");
  });

  it("a prefix cut inside SeriesInstanceUID is truncated (read more), the same bytes as a whole file are invalid", () => {
    const buf = encodeDicom({ seriesUid: "1.2.40.9.123456789", seriesNumber: 4, transferSyntax: syntax, pixelBytes: 4096 });
    // Deflated: the uid's bytes are not visible in the file, so cut the deflate stream after 10 bytes.
    const at = syntax === "deflated" ? datasetStart(buf) + 10 : buf.indexOf("1.2.40.9.1234") + 6;
    expect(at).toBeGreaterThan(132);
    expect(parseDicomHeader(buf.subarray(0, at), { complete: false }).kind).toBe("truncated");
    expect(parseDicomHeader(buf.subarray(0, at), { complete: true }).kind).toBe("invalid");
  });
});

describe("deflated datasets", () => {
  it("an inflated header longer than the 8 KiB first read is read (the deflated file itself is short)", async () => {
    const f = await writeDicomFile(path.join(tmp, "deflated-long.dcm"), { seriesUid: "1.2.41.1", seriesNumber: 1, transferSyntax: "deflated", paddingBytes: 20_000, pixelBytes: 1024 });
    // The padding is one repeated byte, so 20 KB of header deflate to a few hundred bytes.
    expect((await fsp.stat(f)).size).toBeLessThan(8 * 1024);
    const r = await readDicomFile(f);
    expect(r.kind === "dicom" && r.file.series_uid).toBe("1.2.41.1");
  });

  it("a damaged deflate stream makes the file invalid, with a reason", () => {
    const buf = encodeDicom({ seriesUid: "1.2.41.2", seriesNumber: 1, transferSyntax: "deflated" });
    buf.fill(0xff, datasetStart(buf), datasetStart(buf) + 8);
    const r = parseDicomHeader(buf, { complete: true });
    expect(r.kind).toBe("invalid");
    if (r.kind === "invalid") expect(r.reason.length).toBeGreaterThan(0);
  });
});
