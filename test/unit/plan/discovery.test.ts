import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discoverBids, nodeDiscoveryFs, type BidsDiscoveryOptions } from "../../../src/plan/discovery.js";
import { makeBidsDataset, makeTempDir, writeNiftiSet } from "../../helpers/plan-bids-maker.js";

let tmp: string;
let n = 0;
beforeAll(async () => {
  tmp = await makeTempDir("cst-discovery-");
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

function newRoot(): string {
  return path.join(tmp, `bids${n++}`);
}

function opts(bidsDir: string, extra: Partial<BidsDiscoveryOptions> = {}): BidsDiscoveryOptions {
  return { bidsDir, subjectPattern: "sub-*", sessionPattern: "ses-*", dwiFilter: null, include: [], exclude: [], ...extra };
}

const keys = (r: { entries: { subject: string; session: string | null }[] }): string[] =>
  r.entries.map((e) => (e.session ? `${e.subject}_${e.session}` : e.subject)).sort();
const errors = <P extends { severity: string }>(r: { problems: P[] }): P[] => r.problems.filter((p) => p.severity === "error");

describe("BIDS discovery", () => {
  it("finds session-less NIfTI subjects with their bval/bvec/json, ignoring root files and other folders", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-01" }, { id: "sub-02", nifti: [{ json: false, ext: ".nii" }] }]);
    await fsp.mkdir(path.join(root, "derivatives", "sub-99", "dwi"), { recursive: true });
    await fsp.mkdir(path.join(root, "code"));
    const r = await discoverBids(opts(root));
    expect(errors(r)).toEqual([]);
    expect(keys(r)).toEqual(["sub-01", "sub-02"]);
    const e1 = r.entries.find((e) => e.subject === "sub-01")!;
    expect(e1.input).toMatchObject({
      kind: "nifti",
      nifti: path.join(root, "sub-01", "dwi", "sub-01_dwi.nii.gz"),
      bval: path.join(root, "sub-01", "dwi", "sub-01_dwi.bval"),
      bvec: path.join(root, "sub-01", "dwi", "sub-01_dwi.bvec"),
      json: path.join(root, "sub-01", "dwi", "sub-01_dwi.json"),
    });
    expect(e1.input.kind === "nifti" && e1.input.identity.map((i) => path.extname(i.path))).toEqual([".gz", ".bval", ".bvec", ".json"]);
    const e2 = r.entries.find((e) => e.subject === "sub-02")!;
    expect(e2.input.kind === "nifti" && e2.input.json).toBeNull();
    expect(e2.input.kind === "nifti" && e2.input.nifti.endsWith("sub-02_dwi.nii")).toBe(true);
  });

  it("finds sessions and applies the session pattern", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-01", sessions: ["ses-01", "ses-02", "ses-pilot"] }, { id: "sub-02", sessions: ["ses-01"] }]);
    expect(keys(await discoverBids(opts(root)))).toEqual(["sub-01_ses-01", "sub-01_ses-02", "sub-01_ses-pilot", "sub-02_ses-01"]);
    expect(keys(await discoverBids(opts(root, { sessionPattern: "ses-0[12]" })))).toEqual(["sub-01_ses-01", "sub-01_ses-02", "sub-02_ses-01"]);
  });

  it("applies the subject pattern and --include/--exclude on the id and the bare label", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-001" }, { id: "sub-002" }, { id: "sub-103" }, { id: "sub-ctl1" }]);
    expect(keys(await discoverBids(opts(root, { include: ["0*"] })))).toEqual(["sub-001", "sub-002"]);
    expect(keys(await discoverBids(opts(root, { include: ["sub-1*", "ctl*"] })))).toEqual(["sub-103", "sub-ctl1"]);
    expect(keys(await discoverBids(opts(root, { exclude: ["002", "sub-ctl*"] })))).toEqual(["sub-001", "sub-103"]);
    expect(keys(await discoverBids(opts(root, { subjectPattern: "sub-[0-9]*" })))).toEqual(["sub-001", "sub-002", "sub-103"]);
    const none = await discoverBids(opts(root, { include: ["nobody"] }));
    expect(none.entries).toEqual([]);
    expect(errors(none)).toHaveLength(1);
  });

  it("skips a folder with several DWI runs, listing them, and --dwi-filter picks one keeping its entities", async () => {
    const root = await makeBidsDataset(newRoot(), [
      { id: "sub-01", nifti: [{ entities: { acq: "hb", dir: "AP", run: "1" } }, { entities: { acq: "hb", dir: "AP", run: "2" } }] },
      { id: "sub-02" },
    ]);
    const r = await discoverBids(opts(root));
    expect(keys(r)).toEqual(["sub-02"]);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0]).toMatchObject({ subject: "sub-01", session: null });
    expect(r.skipped[0]!.details).toEqual(["sub-01_acq-hb_dir-AP_run-1_dwi.nii.gz", "sub-01_acq-hb_dir-AP_run-2_dwi.nii.gz"]);
    expect(r.problems.filter((p) => p.severity === "warning" && p.subject === "sub-01")).toHaveLength(1);
    expect(errors(r)).toEqual([]);

    const f = await discoverBids(opts(root, { dwiFilter: "*_run-2_*" }));
    const e = f.entries.find((x) => x.subject === "sub-01")!;
    expect(e.input.kind === "nifti" && e.input.entities).toEqual({ acq: "hb", dir: "AP", run: "2" });
    // sub-02 has no run-2 file: skipped with the reason, not silently dropped.
    expect(f.skipped.map((s) => s.subject)).toEqual(["sub-02"]);
  });

  it("reports a missing .bval/.bvec as an error naming the file", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-01", nifti: [{ bval: false }] }, { id: "sub-02", nifti: [{ bvec: false }] }, { id: "sub-03" }]);
    const r = await discoverBids(opts(root));
    expect(keys(r)).toEqual(["sub-03"]);
    const errs = errors(r);
    expect(errs.map((p) => [p.subject, p.category])).toEqual(expect.arrayContaining([["sub-01", "input"], ["sub-02", "input"]]));
    expect(errs.find((p) => p.subject === "sub-01")!.message).toContain("sub-01_dwi.bval");
    expect(errs.find((p) => p.subject === "sub-02")!.message).toContain("sub-02_dwi.bvec");
  });

  it("uses DICOM when there is no NIfTI: dwi/, dwi/dicom/ and dicom/ (extensionless files too)", async () => {
    const root = await makeBidsDataset(newRoot(), [
      { id: "sub-01", dicom: { where: "dwi", series: [{ uid: "1.1.1", seriesNumber: 4, count: 3, extension: "" }] } },
      { id: "sub-02", dicom: { where: "dwi/dicom", series: [{ uid: "1.1.2", seriesNumber: 5, count: 2 }] } },
      { id: "sub-03", sessions: [{ id: "ses-1", dicom: { where: "dicom", series: [{ uid: "1.1.3", seriesNumber: 6, count: 2 }] } }] },
    ]);
    const r = await discoverBids(opts(root));
    expect(errors(r)).toEqual([]);
    expect(keys(r)).toEqual(["sub-01", "sub-02", "sub-03_ses-1"]);
    const byId = Object.fromEntries(r.entries.map((e) => [e.subject, e.input]));
    expect(byId["sub-01"]).toMatchObject({ kind: "dicom", dicom_dir: path.join(root, "sub-01", "dwi"), series_uid: null, series: { series_uid: "1.1.1", file_count: 3 } });
    expect(byId["sub-02"]).toMatchObject({ kind: "dicom", dicom_dir: path.join(root, "sub-02", "dwi", "dicom") });
    expect(byId["sub-03"]).toMatchObject({ kind: "dicom", dicom_dir: path.join(root, "sub-03", "ses-1", "dicom"), identity: { file_count: 2 } });
  });

  it("skips a DICOM folder holding several series, listing uid, number, description and file count", async () => {
    const root = await makeBidsDataset(newRoot(), [
      { id: "sub-01", dicom: { series: [{ uid: "2.2.1", seriesNumber: 3, seriesDescription: "DTI", count: 3 }, { uid: "2.2.2", seriesNumber: 8, seriesDescription: "T1w", count: 1 }] } },
    ]);
    const r = await discoverBids(opts(root));
    expect(r.entries).toEqual([]);
    expect(r.skipped).toHaveLength(1);
    const d = r.skipped[0]!.details;
    expect(d).toHaveLength(2);
    expect(d[0]).toContain("2.2.1");
    expect(d[0]).toContain("3 files");
    expect(d[1]).toContain("2.2.2");
  });

  it("skips subjects and sessions without DWI data with a warning", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-01", anatOnly: true }, { id: "sub-02", sessions: ["ses-1", { id: "ses-2", anatOnly: true }] }]);
    const r = await discoverBids(opts(root));
    expect(keys(r)).toEqual(["sub-02_ses-1"]);
    expect(r.skipped.map((s) => [s.subject, s.session])).toEqual(expect.arrayContaining([["sub-01", null], ["sub-02", "ses-2"]]));
    expect(errors(r)).toEqual([]);
  });

  it("reports a subject with both session-less data and sessions as an error", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-01", sessions: ["ses-1"] }]);
    await writeNiftiSet(path.join(root, "sub-01", "dwi"), "sub-01");
    const r = await discoverBids(opts(root));
    expect(errors(r).map((p) => p.subject)).toEqual(["sub-01"]);
    expect(r.entries).toEqual([]);
  });

  it("reports symlink loops as problems instead of hanging or crashing", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-01" }]);
    await fsp.symlink(path.join(root, "sub-loopb"), path.join(root, "sub-loopa"));
    await fsp.symlink(path.join(root, "sub-loopa"), path.join(root, "sub-loopb"));
    await fsp.symlink(root, path.join(root, "sub-up")); // points to an ancestor
    await fsp.symlink("..", path.join(root, "sub-01", "ses-x")); // session link back up
    const r = await discoverBids(opts(root));
    const loopProblems = r.problems.filter((p) => p.category === "discovery" && /loop/.test(p.message));
    expect(loopProblems.map((p) => p.subject).sort()).toEqual(["sub-01", "sub-loopa", "sub-loopb", "sub-up"]);
    expect(loopProblems.every((p) => p.severity === "error")).toBe(true);
  });

  it("lists a session folder only when its dwi/ is not a plain folder holding a NIfTI (a link, DICOM, nothing)", async () => {
    const root = await makeBidsDataset(newRoot(), [
      { id: "sub-01", sessions: ["ses-1", "ses-2"] },
      { id: "sub-02", sessions: [{ id: "ses-1", dicom: { where: "dicom", series: [{ uid: "3.3.1", seriesNumber: 2, count: 2 }] } }] },
      { id: "sub-03", sessions: [{ id: "ses-1", anatOnly: true }] },
    ]);
    // sub-04's session reaches its dwi/ through a link (to sub-01 ses-2's data, copied aside).
    const real = path.join(tmp, `linked-dwi-${n}`);
    await fsp.cp(path.join(root, "sub-01", "ses-2", "dwi"), real, { recursive: true });
    await fsp.mkdir(path.join(root, "sub-04", "ses-1"), { recursive: true });
    await fsp.symlink(real, path.join(root, "sub-04", "ses-1", "dwi"));
    const listed: string[] = [];
    const fs = { ...nodeDiscoveryFs, readdir: (dir: string) => (listed.push(path.relative(root, dir)), nodeDiscoveryFs.readdir(dir)) };
    const r = await discoverBids(opts(root), fs);
    expect(keys(r)).toEqual(["sub-01_ses-1", "sub-01_ses-2", "sub-02_ses-1", "sub-04_ses-1"]);
    expect(r.entries.find((e) => e.subject === "sub-02")?.input).toMatchObject({ kind: "dicom", dicom_dir: path.join(root, "sub-02", "ses-1", "dicom") });
    // Reached through a link: its real path is looked up (overlap and container checks), not derived.
    expect(r.entries.find((e) => e.subject === "sub-04")?.noLinks).toBe(false);
    expect(r.entries.find((e) => e.subject === "sub-01")?.noLinks).toBe(true);
    expect(r.skipped.map((s) => `${s.subject}_${s.session}`)).toEqual(["sub-03_ses-1"]);
    const sessionFolders = listed.filter((d) => /^sub-\d+\/ses-\d+$/.test(d)).sort();
    expect(sessionFolders).toEqual(["sub-02/ses-1", "sub-03/ses-1", "sub-04/ses-1"]);
    expect(listed).toEqual(expect.arrayContaining(["sub-01/ses-1/dwi", "sub-01/ses-2/dwi", "sub-04/ses-1/dwi"]));
  });

  it("reports an unreadable subject folder as a problem (simulated: tests run as root)", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-01" }, { id: "sub-02" }]);
    const denied = path.join(root, "sub-02");
    const fs = {
      ...nodeDiscoveryFs,
      readdir: (dir: string) => {
        if (dir === denied) throw Object.assign(new Error(`EACCES: permission denied, scandir '${dir}'`), { code: "EACCES" });
        return nodeDiscoveryFs.readdir(dir);
      },
    };
    const r = await discoverBids(opts(root), fs);
    expect(keys(r)).toEqual(["sub-01"]);
    expect(errors(r)).toMatchObject([{ subject: "sub-02", category: "discovery" }]);
  });

  it.skipIf(process.getuid?.() === 0)("reports a chmod 000 subject folder as a problem (skipped as root: root reads everything)", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-01" }, { id: "sub-02" }]);
    await fsp.chmod(path.join(root, "sub-02"), 0o000);
    try {
      const r = await discoverBids(opts(root));
      expect(keys(r)).toEqual(["sub-01"]);
      expect(errors(r)).toMatchObject([{ subject: "sub-02" }]);
    } finally {
      await fsp.chmod(path.join(root, "sub-02"), 0o755);
    }
  });

  it("reports a --bids-dir that is a file, that is missing, or that has no subjects", async () => {
    const file = path.join(tmp, "not-a-dir.txt");
    await fsp.writeFile(file, "x");
    expect(errors(await discoverBids(opts(file)))).toHaveLength(1);
    expect(errors(await discoverBids(opts(path.join(tmp, "missing"))))).toHaveLength(1);
    const empty = newRoot();
    await fsp.mkdir(empty);
    const r = await discoverBids(opts(empty));
    expect(r.entries).toEqual([]);
    expect(errors(r)).toHaveLength(1);
  });

  it("rejects subject folders whose label is not letters and digits", async () => {
    const root = await makeBidsDataset(newRoot(), [{ id: "sub-01" }, { id: "sub-0 2" }, { id: "sub-a_b" }]);
    const r = await discoverBids(opts(root));
    expect(keys(r)).toEqual(["sub-01"]);
    expect(errors(r).map((p) => p.category)).toEqual(["id", "id"]);
    // The exclusion the fix suggests works.
    const r2 = await discoverBids(opts(root, { exclude: ["sub-0 2", "sub-a_b"] }));
    expect(errors(r2)).toEqual([]);
  });
});
