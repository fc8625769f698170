import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDicomHeader, readDicomFile, scanDicomDir, selectDicomSeriesFiles } from "../../../src/plan/dicom.js";
import { encodeDicom, writeDicomFile, writeDicomSeries } from "../../helpers/plan-dicom-writer.js";
import { makeTempDir } from "../../helpers/plan-bids-maker.js";

let tmp: string;
beforeAll(async () => {
  tmp = await makeTempDir("cst-dicom-");
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe("DICOM header reader", () => {
  it("reads series uid, number and description from explicit VR little endian", async () => {
    const f = await writeDicomFile(path.join(tmp, "explicit.dcm"), { seriesUid: "1.2.3.4", seriesNumber: 7, seriesDescription: "DTI_64dir" });
    const r = await readDicomFile(f);
    expect(r.kind).toBe("dicom");
    if (r.kind !== "dicom") return;
    expect(r.file).toMatchObject({ series_uid: "1.2.3.4", series_number: "7", series_description: "DTI_64dir", path: f });
    expect(r.file.size).toBe((await fsp.stat(f)).size);
  });

  it("reads implicit VR little endian datasets (per the TransferSyntaxUID)", async () => {
    const f = await writeDicomFile(path.join(tmp, "implicit"), { seriesUid: "1.2.3.5", seriesNumber: 12, seriesDescription: "ep2d_diff", transferSyntax: "implicit" });
    const r = await readDicomFile(f);
    expect(r.kind === "dicom" && r.file).toMatchObject({ series_uid: "1.2.3.5", series_number: "12", series_description: "ep2d_diff" });
  });

  it("skips undefined-length sequences without taking a nested SeriesInstanceUID", async () => {
    for (const ts of ["explicit", "implicit"] as const) {
      const buf = encodeDicom({ seriesUid: "1.2.3.6", seriesNumber: 3, withSequence: true, transferSyntax: ts });
      const r = parseDicomHeader(buf, { complete: true });
      expect(r.kind).toBe("ok");
      if (r.kind === "ok") expect(r.header.series_uid).toBe("1.2.3.6");
    }
  });

  it("reads past the first 8 KiB when the header is long, and gives up after 64 KiB", async () => {
    const long = await writeDicomFile(path.join(tmp, "long.dcm"), { seriesUid: "1.2.3.7", seriesNumber: 1, paddingBytes: 20_000 });
    const r1 = await readDicomFile(long);
    expect(r1.kind === "dicom" && r1.file.series_uid).toBe("1.2.3.7");
    const tooLong = await writeDicomFile(path.join(tmp, "toolong.dcm"), { seriesUid: "1.2.3.8", seriesNumber: 1, paddingBytes: 70_000 });
    const r2 = await readDicomFile(tooLong);
    expect(r2.kind).toBe("invalid");
  });

  it("stops at SeriesNumber: a buffer cut before the pixel data parses fine", () => {
    const buf = encodeDicom({ seriesUid: "1.2.3.9", seriesNumber: 4, pixelBytes: 4096 });
    // Find the (0020,0013) element that follows SeriesNumber and cut right after its tag header.
    const marker = Buffer.from([0x20, 0x00, 0x13, 0x00]);
    const at = buf.indexOf(marker);
    expect(at).toBeGreaterThan(0);
    const r = parseDicomHeader(buf.subarray(0, at + 8), { complete: false });
    expect(r.kind).toBe("ok");
    if (r.kind === "ok") expect(r.header).toMatchObject({ series_uid: "1.2.3.9", series_number: "4", transfer_syntax: "1.2.840.10008.1.2.1" });
  });

  it("does not read pixel data of big files (only a prefix)", async () => {
    const f = await writeDicomFile(path.join(tmp, "big.dcm"), { seriesUid: "1.2.3.10", seriesNumber: 2, pixelBytes: 4 * 1024 * 1024 });
    const r = await readDicomFile(f);
    expect(r.kind === "dicom" && r.file.series_uid).toBe("1.2.3.10");
  });

  it("accepts a .dcm file without preamble, ignores extensionless non-DICOM files", async () => {
    const raw = await writeDicomFile(path.join(tmp, "raw.dcm"), { seriesUid: "1.2.3.11", seriesNumber: 5, noPreamble: true, transferSyntax: "implicit" });
    const r = await readDicomFile(raw);
    expect(r.kind === "dicom" && r.file.series_uid).toBe("1.2.3.11");
    const junk = path.join(tmp, "README");
    await fsp.writeFile(junk, "x".repeat(300));
    expect((await readDicomFile(junk)).kind).toBe("not-dicom");
    const badDcm = path.join(tmp, "bad.dcm");
    await fsp.writeFile(badDcm, "not dicom at all");
    expect((await readDicomFile(badDcm)).kind).toBe("invalid");
  });
});

describe("series grouping and selection", () => {
  it("groups files by SeriesInstanceUID, sorted by series number", async () => {
    const dir = path.join(tmp, "two-series");
    await writeDicomSeries(dir, { seriesUid: "1.9.2", seriesNumber: 9, seriesDescription: "T1", count: 2 });
    const dwi = await writeDicomSeries(dir, { seriesUid: "1.9.1", seriesNumber: 3, seriesDescription: "DWI", count: 4, extension: "" });
    await fsp.writeFile(path.join(dir, "notes.txt"), "hello");
    const scan = await scanDicomDir(dir);
    expect(scan.series.map((s) => [s.series_uid, s.series_number, s.series_description, s.file_count])).toEqual([
      ["1.9.1", "3", "DWI", 4],
      ["1.9.2", "9", "T1", 2],
    ]);
    expect(scan.invalid).toEqual([]);
    expect(await selectDicomSeriesFiles(dir, "1.9.1")).toEqual(dwi);
    expect(await selectDicomSeriesFiles(dir, "no.such.uid")).toEqual([]);
  });

  it("selectDicomSeriesFiles returns absolute paths for a relative folder", async () => {
    const dir = path.join(tmp, "rel");
    await writeDicomSeries(dir, { seriesUid: "1.8.1", seriesNumber: 1, count: 2 });
    const rel = path.relative(process.cwd(), dir);
    const files = await selectDicomSeriesFiles(rel, "1.8.1");
    expect(files).toHaveLength(2);
    for (const f of files) expect(path.isAbsolute(f)).toBe(true);
  });
});
