import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { minimalNiftiFor } from "./nifti-bytes.js";
import { writeDicomSeries, type DicomSeriesSpec } from "./plan-dicom-writer.js";

/**
 * Synthetic BIDS trees for tests: sub-X/[ses-Y/]dwi/ with NIfTI sets (a minimal valid header:
 * plan checks the first bytes) or DICOM series, plus the usual root files.
 */
export interface NiftiSetSpec {
  /** Entities between sub/ses and the `dwi` suffix, e.g. { acq: "hb", run: "1" }. */
  entities?: Record<string, string>;
  ext?: ".nii.gz" | ".nii";
  bval?: boolean;
  bvec?: boolean;
  json?: boolean;
  /** Data bytes after the NIfTI header (default 16). */
  bytes?: number;
}

export interface DicomPlacement {
  /** Where the files go, relative to the subject/session folder (default "dwi"). */
  where?: "dwi" | "dwi/dicom" | "dicom";
  series: (Omit<DicomSeriesSpec, "seriesUid"> & { uid: string })[];
}

export interface LevelSpec {
  /** NIfTI sets in dwi/ (default: one plain set when neither `nifti` nor `dicom` is given). */
  nifti?: NiftiSetSpec[];
  dicom?: DicomPlacement;
  /** Only an anat/ folder, no DWI. */
  anatOnly?: boolean;
}

export interface SubjectSpec extends LevelSpec {
  /** Folder name, e.g. "sub-001". */
  id: string;
  /** Session folders; a string gets the default level spec. */
  sessions?: (string | ({ id: string } & LevelSpec))[];
}

export async function makeTempDir(prefix = "cst-plan-"): Promise<string> {
  return fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), prefix)));
}

/** Write a NIfTI set into `dwiDir`; returns the absolute paths written. */
export async function writeNiftiSet(
  dwiDir: string,
  stemPrefix: string,
  spec: NiftiSetSpec = {},
): Promise<{ nifti: string; bval: string | null; bvec: string | null; json: string | null }> {
  await fsp.mkdir(dwiDir, { recursive: true });
  const ents = Object.entries(spec.entities ?? {})
    .map(([k, v]) => `_${k}-${v}`)
    .join("");
  const stem = path.join(dwiDir, `${stemPrefix}${ents}_dwi`);
  const nifti = `${stem}${spec.ext ?? ".nii.gz"}`;
  await fsp.writeFile(nifti, minimalNiftiFor(nifti, spec.bytes));
  const bval = spec.bval === false ? null : `${stem}.bval`;
  const bvec = spec.bvec === false ? null : `${stem}.bvec`;
  const json = spec.json === false ? null : `${stem}.json`;
  if (bval) await fsp.writeFile(bval, "0 1000 1000 1000\n");
  if (bvec) await fsp.writeFile(bvec, "0 1 0 0\n0 0 1 0\n0 0 0 1\n");
  if (json) await fsp.writeFile(json, JSON.stringify({ RepetitionTime: 3.2, EchoTime: 0.089 }) + "\n");
  return { nifti, bval, bvec, json };
}

async function writeLevel(dir: string, stemPrefix: string, spec: LevelSpec): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  if (spec.anatOnly) {
    await fsp.mkdir(path.join(dir, "anat"), { recursive: true });
    await fsp.writeFile(path.join(dir, "anat", `${stemPrefix}_T1w.nii.gz`), Buffer.alloc(16));
    return;
  }
  const niftis = spec.nifti ?? (spec.dicom ? [] : [{}]);
  for (const n of niftis) await writeNiftiSet(path.join(dir, "dwi"), stemPrefix, n);
  if (spec.dicom) {
    const target = path.join(dir, spec.dicom.where ?? "dwi");
    for (const s of spec.dicom.series) {
      const { uid, ...rest } = s;
      await writeDicomSeries(target, { ...rest, seriesUid: uid });
    }
  }
}

/** Build a BIDS dataset under `root` (created if needed); returns the root. */
export async function makeBidsDataset(
  root: string,
  subjects: readonly SubjectSpec[],
  opts: { datasetDescription?: boolean; participants?: boolean } = {},
): Promise<string> {
  await fsp.mkdir(root, { recursive: true });
  if (opts.datasetDescription !== false) {
    await fsp.writeFile(path.join(root, "dataset_description.json"), JSON.stringify({ Name: "test", BIDSVersion: "1.9.0" }) + "\n");
  }
  if (opts.participants !== false) {
    await fsp.writeFile(path.join(root, "participants.tsv"), ["participant_id", ...subjects.map((s) => s.id)].join("\n") + "\n");
  }
  for (const s of subjects) {
    const subDir = path.join(root, s.id);
    if (!s.sessions || s.sessions.length === 0) {
      await writeLevel(subDir, s.id, s);
      continue;
    }
    await fsp.mkdir(subDir, { recursive: true });
    for (const ses of s.sessions) {
      const sesSpec = typeof ses === "string" ? { id: ses } : ses;
      await writeLevel(path.join(subDir, sesSpec.id), `${s.id}_${sesSpec.id}`, sesSpec);
    }
  }
  return root;
}

/** `n` session-less NIfTI subjects `sub-0001` .. (fast enough for thousands). */
export async function makeLargeBidsDataset(root: string, n: number): Promise<string> {
  await fsp.mkdir(root, { recursive: true });
  const ids = Array.from({ length: n }, (_, i) => `sub-${String(i + 1).padStart(5, "0")}`);
  const chunk = 200;
  for (let i = 0; i < ids.length; i += chunk) {
    await Promise.all(ids.slice(i, i + chunk).map((id) => writeNiftiSet(path.join(root, id, "dwi"), id, { json: true, bytes: 16 })));
  }
  return root;
}
