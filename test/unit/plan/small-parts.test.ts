import { describe, expect, it } from "vitest";
import { canonicalJson, configHash, configHashPayload } from "../../../src/plan/hash.js";
import { globToRegExp } from "../../../src/plan/glob.js";
import { escapeForDisplay, idLabel, normalizeSessionId, normalizeSubjectId } from "../../../src/plan/ids.js";
import { parseBidsEntities } from "../../../src/plan/bids-names.js";
import type { TaskInput } from "../../../src/schemas/records.js";

describe("ids", () => {
  it("normalises sub-/ses- prefixes and strips them for csttool", () => {
    expect(normalizeSubjectId("001")).toEqual({ ok: true, id: "sub-001" });
    expect(normalizeSubjectId("sub-001")).toEqual({ ok: true, id: "sub-001" });
    expect(normalizeSessionId("01")).toEqual({ ok: true, id: "ses-01" });
    expect(normalizeSessionId("ses-01")).toEqual({ ok: true, id: "ses-01" });
    expect(idLabel("sub-001")).toBe("001");
    expect(idLabel("ses-pre")).toBe("pre");
  });

  it("rejects anything but 1-64 ASCII letters/digits after the prefix", () => {
    for (const bad of ["../x", "a/b", "a b", "sub-", "sub-a-b", "sub-a_b", "x'y", 'x"y', "a;b", "$(id)", "`id`", "a\nb", "\u0430", "ｓｕｂ1", "a".repeat(65), 42, null]) {
      expect(normalizeSubjectId(bad).ok).toBe(false);
    }
    expect(normalizeSubjectId("a".repeat(64)).ok).toBe(true);
  });

  it("shows offending values JSON-escaped, non-ASCII as \\u escapes", () => {
    expect(escapeForDisplay("a\nb")).toBe('"a\\nb"');
    expect(escapeForDisplay("sub-\u0430")).toBe('"sub-\\u0430"');
    expect(escapeForDisplay("x\u{1F600}")).toBe('"x\\ud83d\\ude00"');
    const r = normalizeSubjectId("sub-1\u0000`");
    expect(r.ok === false && r.message).toContain('"sub-1\\u0000`"');
  });
});

describe("globs", () => {
  it("supports * ? [] [!] {a,b} and escapes", () => {
    expect(globToRegExp("sub-*").test("sub-001")).toBe(true);
    expect(globToRegExp("sub-*").test("derivatives")).toBe(false);
    expect(globToRegExp("ses-0?").test("ses-01")).toBe(true);
    expect(globToRegExp("ses-[12]").test("ses-3")).toBe(false);
    expect(globToRegExp("ses-[!12]").test("ses-3")).toBe(true);
    expect(globToRegExp("*_{acq-a,acq-b}_*").test("sub-1_acq-b_dwi.nii.gz")).toBe(true);
    expect(globToRegExp("a.b").test("axb")).toBe(false);
    expect(globToRegExp("\\*").test("*")).toBe(true);
  });
});

describe("BIDS entities", () => {
  it("keeps entities other than sub/ses", () => {
    expect(parseBidsEntities("sub-01_ses-2_acq-hb_dir-AP_run-3_dwi.nii.gz")).toEqual({ acq: "hb", dir: "AP", run: "3" });
    expect(parseBidsEntities("sub-01_dwi.nii")).toEqual({});
  });
});

describe("config hash", () => {
  const nifti: TaskInput = {
    kind: "nifti",
    nifti: "/d/s_dwi.nii.gz",
    bval: "/d/s_dwi.bval",
    bvec: "/d/s_dwi.bvec",
    json: null,
    entities: { run: "1" },
    identity: [{ path: "/d/s_dwi.nii.gz", size: 10, mtime_ms: 5.5 }],
  };
  const dicom: TaskInput = {
    kind: "dicom",
    dicom_dir: "/d/dcm",
    series_uid: "1.2",
    series: { series_uid: "1.2", series_number: "3", series_description: null, file_count: 2 },
    identity: { file_count: 2, total_size: 20, newest_mtime_ms: 7 },
  };

  it("its payload is canonical JSON (keys sorted at every level)", () => {
    for (const input of [nifti, dicom]) {
      const payload = configHashPayload({ unring: true, fa_thr: 0.2, target_voxel_size: [2, 2, 2] }, input, "0.5.0");
      expect(JSON.stringify(payload)).toBe(canonicalJson(payload));
    }
  });

  it("does not depend on option key order, does depend on values, inputs and version", () => {
    const a = configHash({ fa_thr: 0.2, unring: true }, nifti, "0.5.0");
    expect(configHash({ unring: true, fa_thr: 0.2 }, nifti, "0.5.0")).toBe(a);
    expect(configHash({ fa_thr: 0.3, unring: true }, nifti, "0.5.0")).not.toBe(a);
    expect(configHash({ fa_thr: 0.2, unring: true }, nifti, "0.5.1")).not.toBe(a);
    expect(configHash({ fa_thr: 0.2, unring: true }, { ...nifti, identity: [{ path: "/d/s_dwi.nii.gz", size: 10, mtime_ms: 6 }] }, "0.5.0")).not.toBe(a);
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
