#!/usr/bin/env node
// Writes a small BIDS tree for trying cst-batch without real data:
//   sub-01 with two sessions (NIfTI), sub-02 without sessions (NIfTI), sub-03 DICOM (one series).
// The NIfTI files are placeholders: they are enough for cst-batch and its csttool stand-in
// (test/fixtures/bin/csttool), not for the real csttool.
//
// usage: node examples/make-demo-dataset.mjs [DIR]   (default: examples/demo-bids)
import { mkdirSync, writeFileSync, existsSync, rmSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(process.argv[2] ?? path.join(here, "demo-bids"));

if (existsSync(root)) rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });
writeFileSync(
  path.join(root, "dataset_description.json"),
  JSON.stringify({ Name: "cst-batch demo", BIDSVersion: "1.9.0", DatasetType: "raw" }, null, 2) + "\n",
);
writeFileSync(path.join(root, "participants.tsv"), "participant_id\tage\nsub-01\t34\nsub-02\t41\nsub-03\t29\n");

const bvals = "0 1000 1000 1000 1000 1000 1000 0\n";
const bvecs = [
  "0 1 0 0 0.707 0.707 0 0",
  "0 0 1 0 0.707 0 0.707 0",
  "0 0 0 1 0 0.707 0.707 0",
].join("\n") + "\n";

function writeNifti(dir, stem) {
  mkdirSync(dir, { recursive: true });
  // A NIfTI-1 header (348 bytes, sizeof_hdr 348, magic "n+1"), the 4-byte extension flag and a
  // little data, gzip-compressed: what plan's header check expects; the stand-in reads no more.
  const header = Buffer.alloc(352 + 64);
  header.writeInt32LE(348, 0);
  header.write("n+1\0", 344, "latin1");
  writeFileSync(path.join(dir, `${stem}_dwi.nii.gz`), gzipSync(header));
  writeFileSync(path.join(dir, `${stem}_dwi.bval`), bvals);
  writeFileSync(path.join(dir, `${stem}_dwi.bvec`), bvecs);
  writeFileSync(
    path.join(dir, `${stem}_dwi.json`),
    JSON.stringify({ MagneticFieldStrength: 3, EchoTime: 0.089, PhaseEncodingDirection: "j-" }, null, 2) + "\n",
  );
}

writeNifti(path.join(root, "sub-01", "ses-01", "dwi"), "sub-01_ses-01");
writeNifti(path.join(root, "sub-01", "ses-02", "dwi"), "sub-01_ses-02");
writeNifti(path.join(root, "sub-02", "dwi"), "sub-02");

// --- a minimal, valid DICOM series (explicit VR little endian, tiny pixel data) ---
function element(group, elem, vr, value) {
  let data = Buffer.isBuffer(value) ? value : Buffer.from(String(value), "latin1");
  const padChar = vr === "UI" || vr === "OB" || vr === "OW" ? 0 : 0x20;
  if (data.length % 2) data = Buffer.concat([data, Buffer.from([padChar])]);
  const long = ["OB", "OW", "OF", "SQ", "UT", "UN"].includes(vr);
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elem, 2);
  head.write(vr, 4, "latin1");
  if (long) head.writeUInt32LE(data.length, 8);
  else head.writeUInt16LE(data.length, 6);
  return Buffer.concat([head, data]);
}
function us(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function writeDicomSlice(file, { seriesUid, seriesNumber, description, instance }) {
  const sopInstance = `${seriesUid}.${instance}`;
  const mrSop = "1.2.840.10008.5.1.4.1.1.4";
  const metaBody = Buffer.concat([
    element(0x0002, 0x0001, "OB", Buffer.from([0, 1])),
    element(0x0002, 0x0002, "UI", mrSop),
    element(0x0002, 0x0003, "UI", sopInstance),
    element(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1"),
    element(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.10.1234"),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length);
  const meta = Buffer.concat([element(0x0002, 0x0000, "UL", groupLength), metaBody]);
  const dataset = Buffer.concat([
    element(0x0008, 0x0016, "UI", mrSop),
    element(0x0008, 0x0018, "UI", sopInstance),
    element(0x0008, 0x0060, "CS", "MR"),
    element(0x0008, 0x103e, "LO", description),
    element(0x0010, 0x0010, "PN", "Demo^Subject03"),
    element(0x0010, 0x0020, "LO", "sub-03"),
    element(0x0020, 0x000d, "UI", "1.2.826.0.1.3680043.10.1234.1"),
    element(0x0020, 0x000e, "UI", seriesUid),
    element(0x0020, 0x0011, "IS", String(seriesNumber)),
    element(0x0020, 0x0013, "IS", String(instance)),
    element(0x0028, 0x0002, "US", us(1)),
    element(0x0028, 0x0004, "CS", "MONOCHROME2"),
    element(0x0028, 0x0010, "US", us(2)),
    element(0x0028, 0x0011, "US", us(2)),
    element(0x0028, 0x0100, "US", us(16)),
    element(0x0028, 0x0101, "US", us(12)),
    element(0x0028, 0x0102, "US", us(11)),
    element(0x0028, 0x0103, "US", us(0)),
    element(0x7fe0, 0x0010, "OW", Buffer.alloc(8)),
  ]);
  writeFileSync(file, Buffer.concat([Buffer.alloc(128), Buffer.from("DICM", "latin1"), meta, dataset]));
}

const dicomDir = path.join(root, "sub-03", "dwi");
mkdirSync(dicomDir, { recursive: true });
for (let i = 1; i <= 4; i++) {
  writeDicomSlice(path.join(dicomDir, `IM${String(i).padStart(4, "0")}.dcm`), {
    seriesUid: "1.2.826.0.1.3680043.10.1234.1.7",
    seriesNumber: 7,
    description: "DTI_64dir",
    instance: i,
  });
}

process.stdout.write(`demo BIDS dataset written to ${root}\n`);
