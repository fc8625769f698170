#!/usr/bin/env node
// A study done by an earlier cst-batch (done records without `input_hashes`): its first re-plan
// hashes every done subject's NIfTI inputs into the input-hash cache (src/plan/content-hash.ts),
// held one shard at a time (src/plan/hash-cache.ts). For each size: a BIDS tree, a plan, finished
// state written as the older cst-batch left it (bench/lib/data.mjs, light), then the first re-plan
// (every input read and hashed) and a second (the cache answers), each with its peak RSS and CPU,
// beside the plain plan of the same tree. Inputs are the bench's tiny files: the reading is cheap,
// what grows with the study is the cache. Cleaned up after.
//
//   npm run build && node bench/legacy-replan.mjs --sizes 10000,40000
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { cli, cliEnv, STANDIN } from "./lib/context.mjs";
import { makeBidsTree, writeDoneTree } from "./lib/data.mjs";
import { run } from "./lib/measure.mjs";

const at = process.argv.indexOf("--sizes");
const sizes = (at >= 0 ? process.argv[at + 1] : "10000,40000").split(",").map(Number);
const env = cliEnv();
const mb = (r) => (r.rssKb === null ? "?" : `${(r.rssKb / 1024).toFixed(0)} MB`);
const s = (r) => `${(r.ms / 1000).toFixed(1)} s wall, cpu ${((r.cpuMs ?? 0) / 1000).toFixed(1)} s, peak ${mb(r)}`;
for (const n of sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cst-bench-legacy-"));
  try {
    const bids = path.join(dir, "bids");
    const out = path.join(dir, "out");
    makeBidsTree(bids, n);
    const plan = run(cli("plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check"), { env });
    await writeDoneTree(out, { light: true, inputHashes: false });
    const first = run(cli("plan", "--out", out, "--skip-disk-check"), { env });
    const second = run(cli("plan", "--out", out, "--skip-disk-check"), { env });
    console.log(`${n} subjects: plan ${s(plan)}`);
    console.log(`  first re-plan (every done input hashed into the cache): ${s(first)}`);
    console.log(`  second re-plan (the cache answers):                     ${s(second)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
