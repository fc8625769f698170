#!/usr/bin/env node
// Cost of "content, not timestamps" (src/plan/content-hash.ts): for subjects done before run-one
// recorded their inputs' hashes (older studies), the first plan after they are done reads their
// NIfTI inputs once to hash them; later plans find them in the cache. A plan after a `touch` or
// a copy reads the touched files once, the same way. Writes
// `--subjects` files of `--mb` MB of real (random) bytes (not sparse: a sparse file would hash
// its holes from page cache), hashes them cold-ish and again from the cache, and extrapolates to
// a 300-subject study of 30-300 MB DWI files from the measured throughput. Then run-one's own
// cost (src/run/input-hashes.ts): one subject's inputs hashed from open descriptors, for a
// 30 MB and a 300 MB DWI file (`--run-one-mb 30,300`; 0 leaves it out), page cache warm.
//
//   npm run build && node bench/input-hash.mjs                 # 300 files x 2 MB (~10 s here)
//   node bench/input-hash.mjs --subjects 300 --mb 30            # the real thing: 9 GB written first
import { randomFillSync } from "node:crypto";
import { mkdtempSync, openSync, closeSync, writeSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { keepSameContent } from "../dist/plan/content-hash.js";
import { HashCache } from "../dist/plan/hash-cache.js";
import { closeInputs, hashInputs } from "../dist/run/input-hashes.js";

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
  // The study folder the cache's shards are staged in (src/plan/hash-cache.ts).
  const out = path.join(dir, "out");
  const cache = new HashCache(out, true);
  const check = () => keepSameContent({ out, tasks, resume, previous: null, cache, sameVersion: true, remember: true });
  let t = performance.now();
  await check();
  const firstMs = performance.now() - t;
  t = performance.now();
  await check();
  const cachedMs = performance.now() - t;
  const bytes = subjects * mb * 2 ** 20;
  const mbPerS = bytes / 2 ** 20 / (firstMs / 1000);
  console.log(`input hashing: ${subjects} done subjects x ${mb} MB (real bytes, page cache warm from writing)`);
  console.log(`  first plan after they are done: ${(firstMs / 1000).toFixed(2)} s (${mbPerS.toFixed(0)} MB/s, sha-256, 2 files at a time)`);
  console.log(`  every later plan (cache hit):   ${cachedMs.toFixed(1)} ms`);
  for (const size of [30, 300]) {
    console.log(`  extrapolated, 300 subjects x ${size} MB: ${((300 * size) / mbPerS).toFixed(0)} s once at this throughput (disk-bound in practice)`);
  }
  // run-one: the subject's inputs (DWI + small bval/bvec/json) hashed from descriptors, as in a run.
  const runOneMb = (process.argv[process.argv.indexOf("--run-one-mb") + 1] ?? "30,300").split(",").map(Number).filter((n) => n > 0);
  if (!process.argv.includes("--run-one-mb")) runOneMb.splice(0, runOneMb.length, 30, 300);
  for (const size of runOneMb) {
    const dwi = path.join(dir, `run-one-${size}.nii.gz`);
    const fd = openSync(dwi, "w");
    for (let m = 0; m < size; m++) writeSync(fd, randomFillSync(chunk));
    closeSync(fd);
    const small = ["bval", "bvec", "json"].map((ext) => {
      const f = path.join(dir, `run-one-${size}.${ext}`);
      const w = openSync(f, "w");
      writeSync(w, randomFillSync(Buffer.alloc(4096)));
      closeSync(w);
      return f;
    });
    const times = [];
    for (let r = 0; r < 3; r++) {
      const opened = [dwi, ...small].map((f) => {
        const d = openSync(f, "r");
        const st = statSync(f);
        return { path: f, fd: d, size: st.size, mtime_ms: st.mtimeMs, ino: st.ino };
      });
      const t0 = performance.now();
      const h = await hashInputs(opened);
      times.push(performance.now() - t0);
      closeInputs(opened);
      if (h === null) throw new Error("hashing failed");
    }
    times.sort((a, b) => a - b);
    const ms = times[1];
    console.log(`  run-one, one subject, ${size} MB DWI + bval/bvec/json: ${ms.toFixed(0)} ms (median of 3; ${(size / (ms / 1000)).toFixed(0)} MB/s), overlapping csttool's run`);
    rmSync(dwi);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
