#!/usr/bin/env node
// The floor under `plan` on a BIDS tree: the file-system calls plan's discovery makes for each
// subject, from a bare loop with nothing else (no checks, no plan written). Figure 1 runs it
// beside plan and `find`: plan can come near it, not below it. Per subject: the subject folder
// listed; per session an lstat of dwi/ and dwi/ listed (the session folder itself only when dwi/
// is not a plain folder, as discovery does); the NIfTI opened, fstat'ed, its first 256 bytes read
// and gunzipped (the header check); the .bval, .bvec and .json stat'ed.
// usage: node bench/plan-floor.mjs BIDS_DIR   (prints the number of NIfTI files seen)
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, statSync } from "node:fs";
import zlib from "node:zlib";

const root = process.argv[2];
if (!root) {
  console.error("usage: node bench/plan-floor.mjs BIDS_DIR");
  process.exit(2);
}
const head = Buffer.allocUnsafe(256);
let seen = 0;

/** A subject or session folder; `listed`: its listing is in hand (a session-less subject's). */
function level(dir, listed) {
  const dwi = `${dir}/dwi`;
  if (listed) {
    if (!listed.some((e) => e.name === "dwi" && e.isDirectory())) return;
  } else {
    let plain = false;
    try {
      plain = lstatSync(dwi).isDirectory();
    } catch {
      return;
    }
    if (!plain) return void readdirSync(dir, { withFileTypes: true });
  }
  for (const f of readdirSync(dwi, { withFileTypes: true })) {
    const file = `${dwi}/${f.name}`;
    if (f.name.endsWith("_dwi.nii.gz")) {
      const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
      fstatSync(fd);
      const n = readSync(fd, head, 0, head.length, 0);
      closeSync(fd);
      zlib.gunzipSync(head.subarray(0, n), { finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: 1024 });
      seen++;
    } else if (/\.(bval|bvec|json)$/.test(f.name)) {
      statSync(file);
    }
  }
}

for (const s of readdirSync(root, { withFileTypes: true })) {
  if (!s.name.startsWith("sub-") || !s.isDirectory()) continue;
  const sub = `${root}/${s.name}`;
  const inside = readdirSync(sub, { withFileTypes: true });
  const sessions = inside.filter((e) => e.name.startsWith("ses-") && e.isDirectory());
  if (sessions.length === 0) level(sub, inside);
  for (const ses of sessions) level(`${sub}/${ses.name}`, null);
}
console.log(seen);
