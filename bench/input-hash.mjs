#!/usr/bin/env node
// Cost of "content, not timestamps" (src/plan/content-hash.ts): the first plan after subjects are
// done reads their NIfTI inputs once to hash them; later plans find them in the cache. Writes
// `--subjects` files of `--mb` MB of real (random) bytes (not sparse: a sparse file would hash
// its holes from page cache), hashes them cold-ish and again from the cache, and extrapolates to
// a 300-subject study of 30-300 MB DWI files from the measured throughput.
//
//   npm run build && node bench/input-hash.mjs                 # 300 files x 2 MB (~10 s here)
//   node bench/input-hash.mjs --subjects 300 --mb 30            # the real thing: 9 GB written first
import { randomFillSync } from "node:crypto";
import { mkdtempSync, openSync, closeSync, writeSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { keepSameContent } from "../dist/plan/content-hash.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const subjects = arg("subjects", 300);
const mb = arg("mb", 2);
const dir = mkdtempSync(path.join(os.tmpdir(), "cst-bench-hash-"));
try {
  const chunk = Buffer.alloc(1 << 20);
  const files = [];
  for (let i = 0; i < subjects; i++) {
    const file = path.join(dir, `sub-${String(i).padStart(4, "0")}_dwi.nii.gz`);
    const fd = openSync(file, "w");
    for (let m = 0; m < mb; m++) writeSync(fd, randomFillSync(chunk));
    closeSync(fd);
    files.push(file);
  }
  const tasks = files.map((file, index) => {
    const st = statSync(file);
    const id = { path: file, size: st.size, mtime_ms: st.mtimeMs };
    return { index, key: `sub-${index}`, config_hash: "h", options: {}, input: { kind: "nifti", nifti: file, identity: [id] } };
  });
  const resume = tasks.map(() => ({ state: "done", doneHash: "h" }));
  const cache = { entries: {}, dirty: false };
  let t = performance.now();
  await keepSameContent(tasks, resume, null, cache, true, true);
  const firstMs = performance.now() - t;
  t = performance.now();
  await keepSameContent(tasks, resume, null, cache, true, true);
  const cachedMs = performance.now() - t;
  const bytes = subjects * mb * 2 ** 20;
  const mbPerS = bytes / 2 ** 20 / (firstMs / 1000);
  console.log(`input hashing: ${subjects} done subjects x ${mb} MB (real bytes, page cache warm from writing)`);
  console.log(`  first plan after they are done: ${(firstMs / 1000).toFixed(2)} s (${mbPerS.toFixed(0)} MB/s, sha-256, 2 files at a time)`);
  console.log(`  every later plan (cache hit):   ${cachedMs.toFixed(1)} ms`);
  for (const size of [30, 300]) {
    console.log(`  extrapolated, 300 subjects x ${size} MB: ${((300 * size) / mbPerS).toFixed(0)} s once at this throughput (disk-bound in practice)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
