import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadManifestSource } from "../../../src/plan/manifest.js";
import { parseJsonc } from "../../../src/plan/jsonc.js";
import { EXAMPLE_MANIFEST } from "../../../src/plan/example-manifest.js";
import { ManifestSchema } from "../../../src/schemas/manifest.js";
import { makeTempDir, writeNiftiSet } from "../../helpers/plan-bids-maker.js";
import { writeDicomSeries } from "../../helpers/plan-dicom-writer.js";

let tmp: string;
let n = 0;
const noFilter = { include: [], exclude: [] };

beforeAll(async () => {
  tmp = await makeTempDir("cst-manifest-");
  // Inputs shared by the manifests below, relative to tmp.
  await writeNiftiSet(path.join(tmp, "data", "sub-001"), "sub-001");
  await writeNiftiSet(path.join(tmp, "data", "sub-002"), "sub-002", { json: false });
  await writeNiftiSet(path.join(tmp, "data", "sub-003"), "sub-003", { bval: false });
  await writeDicomSeries(path.join(tmp, "dicom", "one"), { seriesUid: "1.5.1", seriesNumber: 2, seriesDescription: "DWI", count: 2 });
  await writeDicomSeries(path.join(tmp, "dicom", "two"), { seriesUid: "1.6.1", seriesNumber: 3, seriesDescription: "DWI", count: 3 });
  await writeDicomSeries(path.join(tmp, "dicom", "two"), { seriesUid: "1.6.2", seriesNumber: 7, seriesDescription: "T1", count: 1 });
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function manifestFile(content: unknown, dir = tmp): Promise<string> {
  const file = path.join(dir, `m${n++}.json`);
  await fsp.writeFile(file, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return file;
}

const errors = <P extends { severity: string }>(r: { problems: P[] }): P[] => r.problems.filter((p) => p.severity === "error");

describe("manifest loading", () => {
  it("accepts both spellings (id/subject_id, options/global_options) and normalises bare ids", async () => {
    const a = await loadManifestSource(
      await manifestFile({ name: "s", options: { fa_thr: 0.3 }, subjects: [{ id: "001", nifti: "data/sub-001/sub-001_dwi.nii.gz" }] }),
      noFilter,
    );
    expect(errors(a)).toEqual([]);
    expect(a.entries.map((e) => e.subject)).toEqual(["sub-001"]);
    expect(a.options).toEqual({ fa_thr: 0.3 });
    const b = await loadManifestSource(
      await manifestFile({ global_options: { fa_thr: 0.25 }, subjects: [{ subject_id: "sub-002", session: "01", nifti: "data/sub-002/sub-002_dwi.nii.gz" }] }),
      noFilter,
    );
    expect(errors(b)).toEqual([]);
    expect(b.entries.map((e) => [e.subject, e.session])).toEqual([["sub-002", "ses-01"]]);
    expect(b.options).toEqual({ fa_thr: 0.25 });
  });

  it("resolves relative paths against the manifest's folder and finds bval/bvec/json by stem", async () => {
    const sub = path.join(tmp, "nested");
    await fsp.mkdir(sub, { recursive: true });
    const r = await loadManifestSource(await manifestFile({ subjects: [{ id: "sub-001", nifti: "../data/sub-001/sub-001_dwi.nii.gz" }] }, sub), noFilter);
    expect(errors(r)).toEqual([]);
    const input = r.entries[0]!.input;
    expect(input).toMatchObject({
      kind: "nifti",
      nifti: path.join(tmp, "data", "sub-001", "sub-001_dwi.nii.gz"),
      bval: path.join(tmp, "data", "sub-001", "sub-001_dwi.bval"),
      json: path.join(tmp, "data", "sub-001", "sub-001_dwi.json"),
    });
  });

  it("names unknown keys with their path and lists the valid ones", async () => {
    const r = await loadManifestSource(
      await manifestFile({ nmae: "x", subjects: [{ id: "sub-001", nifti: "data/sub-001/sub-001_dwi.nii.gz" }, { id: "sub-002", nifty: "x.nii.gz" }, { id: "sub-004", nifti: "a.nii.gz", options: { fa_tresh: 1 } }] }),
      noFilter,
    );
    const msgs = errors(r).map((p) => p.message);
    expect(msgs.some((m) => m.includes("nmae") && m.includes("subjects"))).toBe(true);
    const nifty = errors(r).find((p) => p.message.includes("subjects[1].nifty"))!;
    expect(nifty.message).toContain("nifti");
    expect(nifty.fix).toContain('"nifti"');
    const opt = errors(r).find((p) => p.message.includes("subjects[2].options.fa_tresh"))!;
    expect(opt.message).toContain("fa_thr");
    expect(opt.category).toBe("options");
  });

  it("rejects both id spellings, both/neither nifti and dicom, series_uid on nifti, empty subjects", async () => {
    const r = await loadManifestSource(
      await manifestFile({
        subjects: [
          { id: "sub-001", subject_id: "sub-001", nifti: "data/sub-001/sub-001_dwi.nii.gz" },
          { id: "sub-002", nifti: "data/sub-002/sub-002_dwi.nii.gz", dicom: "dicom/one" },
          { id: "sub-003" },
          { id: "sub-004", nifti: "data/sub-001/sub-001_dwi.nii.gz", series_uid: "1.2" },
        ],
      }),
      noFilter,
    );
    expect(r.entries).toEqual([]);
    const at = errors(r).map((p) => p.message.match(/subjects\[(\d)\]/)?.[1]);
    expect(at).toEqual(["0", "1", "2", "3"]);
    const empty = await loadManifestSource(await manifestFile({ subjects: [] }), noFilter);
    expect(errors(empty)).toHaveLength(1);
    expect(errors(empty)[0]!.message).toContain("subjects");
    const both = await loadManifestSource(await manifestFile({ options: {}, global_options: {}, subjects: [{ id: "1", nifti: "data/sub-001/sub-001_dwi.nii.gz" }] }), noFilter);
    expect(errors(both)).toHaveLength(1);
  });

  it("reports invalid JSON with line and column", async () => {
    const r = await loadManifestSource(await manifestFile('{\n  "subjects": [\n    { "id": "sub-001" "nifti": "x" }\n  ]\n}\n'), noFilter);
    expect(errors(r)).toHaveLength(1);
    expect(errors(r)[0]!.message).toMatch(/line 3, column 23/);
  });

  it("reads JSONC: comments and trailing commas", async () => {
    const r = await loadManifestSource(
      await manifestFile(`// a study\n{\n  /* block */ "subjects": [\n    { "id": "sub-001", // trailing\n      "nifti": "data/sub-001/sub-001_dwi.nii.gz", },\n  ],\n}\n`),
      noFilter,
    );
    expect(errors(r)).toEqual([]);
    expect(r.entries).toHaveLength(1);
  });

  it("rejects hostile ids and shows them escaped", async () => {
    const hostile = ["../x", "a/b", "sub 1", "sub-'1'", 'sub-"1"', "sub-1;rm", "$(id)", "`id`", "sub-1\nx", "sub-\u0430\u0431", "sub-" + "a".repeat(65), ""];
    const r = await loadManifestSource(
      await manifestFile({ subjects: hostile.map((id) => ({ id, nifti: "data/sub-001/sub-001_dwi.nii.gz" })) }),
      noFilter,
    );
    expect(r.entries).toEqual([]);
    const errs = errors(r);
    expect(errs).toHaveLength(hostile.length);
    expect(errs.every((p) => p.category === "id")).toBe(true);
    const newline = errs.find((p) => p.message.includes("subjects[8]"))!;
    expect(newline.message).toContain('"sub-1\\nx"');
    expect(newline.message).not.toContain("\n");
    const cyrillic = errs.find((p) => p.message.includes("subjects[9]"))!;
    expect(cyrillic.message).toContain("\\u0430");
    const bad = await loadManifestSource(await manifestFile({ subjects: [{ id: "sub-1", session: "ses-1/..", nifti: "data/sub-001/sub-001_dwi.nii.gz" }] }), noFilter);
    expect(errors(bad).map((p) => p.category)).toEqual(["id"]);
  });

  it("reports missing inputs and missing bval, all at once", async () => {
    const r = await loadManifestSource(
      await manifestFile({
        subjects: [
          { id: "sub-001", nifti: "data/missing.nii.gz" },
          { id: "sub-003", nifti: "data/sub-003/sub-003_dwi.nii.gz" },
          { id: "sub-005", dicom: "dicom/missing" },
          { id: "sub-006", nifti: "data/sub-001/sub-001_dwi.bval" },
        ],
      }),
      noFilter,
    );
    expect(r.entries).toEqual([]);
    expect(errors(r).map((p) => p.subject).sort()).toEqual(["sub-001", "sub-003", "sub-005", "sub-006"]);
  });

  it("DICOM: one series is fine, several need series_uid, a wrong uid lists the series", async () => {
    const r = await loadManifestSource(
      await manifestFile({
        subjects: [
          { id: "sub-001", dicom: "dicom/one" },
          { id: "sub-002", dicom: "dicom/two" },
          { id: "sub-003", dicom: "dicom/two", series_uid: "1.6.1" },
          { id: "sub-004", dicom: "dicom/two", series_uid: "9.9" },
        ],
      }),
      noFilter,
    );
    expect(r.entries.map((e) => e.subject)).toEqual(["sub-001", "sub-003"]);
    expect(r.entries[1]!.input).toMatchObject({ kind: "dicom", series_uid: "1.6.1", series: { series_uid: "1.6.1", file_count: 3 }, identity: { file_count: 3 } });
    const amb = errors(r).find((p) => p.subject === "sub-002")!;
    expect(amb.category).toBe("dicom");
    expect(amb.message).toContain("1.6.1");
    expect(amb.message).toContain("1.6.2");
    expect(amb.message).toContain('"T1"');
    expect(errors(r).find((p) => p.subject === "sub-004")!.message).toContain("1.6.2");
  });

  it("rejects a newer schema_version and a missing file", async () => {
    expect(errors(await loadManifestSource(await manifestFile({ schema_version: 2, subjects: [] }), noFilter))[0]!.message).toContain("schema_version 2");
    expect(errors(await loadManifestSource(path.join(tmp, "nope.json"), noFilter))).toHaveLength(1);
  });

  it("the example written by `manifest init` is valid (only its paths are missing)", async () => {
    const parsed = parseJsonc(EXAMPLE_MANIFEST);
    expect(parsed.ok).toBe(true);
    const r = await loadManifestSource(await manifestFile(EXAMPLE_MANIFEST), noFilter);
    const errs = errors(r);
    expect(errs.length).toBeGreaterThan(0);
    expect(errs.every((p) => p.category === "input")).toBe(true);
  });
});

describe("manifest filters and schema", () => {
  it("--include/--exclude apply to manifest ids too, before any file is checked", async () => {
    const r = await loadManifestSource(
      await manifestFile({
        subjects: [
          { id: "sub-001", nifti: "data/sub-001/sub-001_dwi.nii.gz" },
          { id: "sub-002", nifti: "data/sub-002/sub-002_dwi.nii.gz" },
          { id: "sub-009", nifti: "data/missing.nii.gz" },
        ],
      }),
      { include: ["00*"], exclude: ["sub-009"] },
    );
    expect(errors(r)).toEqual([]);
    expect(r.entries.map((e) => e.subject)).toEqual(["sub-001", "sub-002"]);
  });

  it("ManifestSchema accepts the example and rejects unknown keys", () => {
    const parsed = parseJsonc(EXAMPLE_MANIFEST);
    expect(parsed.ok && ManifestSchema.safeParse(parsed.value).success).toBe(true);
    expect(ManifestSchema.safeParse({ subjects: [{ id: "1", nifti: "a.nii", nifty: 1 }] }).success).toBe(false);
    expect(ManifestSchema.safeParse({ subjectz: [] }).success).toBe(false);
  });
});

describe("JSONC parser", () => {
  it("reports duplicate keys and unterminated comments with positions", () => {
    const d = parseJsonc('{"a": 1,\n "a": 2}');
    expect(d).toMatchObject({ ok: false, line: 2, column: 2 });
    expect(parseJsonc("{ /* x ").ok).toBe(false);
    expect(parseJsonc('{"s": "a // not a comment", "u": "\\u00e9"}')).toEqual({ ok: true, value: { s: "a // not a comment", u: "é" } });
    expect(parseJsonc("[1, 2,]")).toEqual({ ok: true, value: [1, 2] });
    expect(parseJsonc("[1 2]")).toMatchObject({ ok: false, line: 1, column: 4 });
  });
});
