#!/usr/bin/env node
// A done study whose every input was touched (a dataset copied without -p, a restore): the first
// re-plan after it hashes every done subject's inputs and proves them the same (src/plan/content-hash.ts),
// the next finds them in the input-hash cache; each keeps every done subject's task as planned
// before. For each size: a BIDS tree, a plan, finished state as run-one writes it (input hashes
// recorded; bench/lib/data.mjs, light), a re-plan with nothing touched, then every input file
// touched and two re-plans, each with its peak RSS and CPU time. Cleaned up after.
//
//   npm run build && node bench/touched-replan.mjs --sizes 10000,50000
import { mkdtempSync, readdirSync, rmSync, utimesSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { cli, cliEnv, STANDIN } from "./lib/context.mjs";
import { makeBidsTree, writeDoneTree } from "./lib/data.mjs";
import { run } from "./lib/measure.mjs";

const at = process.argv.indexOf("--sizes");
const sizes = (at >= 0 ? process.argv[at + 1] : "10000,50000").split(",").map(Number);
const env = cliEnv();
const mb = (r) => (r.rssKb === null ? "?" : `${(r.rssKb / 1024).toFixed(0)} MB`);
const s = (r) => `${(r.ms / 1000).toFixed(1)} s wall, cpu ${((r.cpuMs ?? 0) / 1000).toFixed(1)} s, peak ${mb(r)}${r.status === 0 ? "" : ` (exit ${r.status})`}`;

/** Every file below `dir` gets the mtime `when` (seconds). */
function touchAll(dir, when) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) touchAll(p, when);
    else utimesSync(p, when, when);
  }
}

for (const n of sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cst-bench-touched-"));
  try {
    const bids = path.join(dir, "bids");
    const out = path.join(dir, "out");
    makeBidsTree(bids, n);
    const plan = run(cli("plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check"), { env });
    await writeDoneTree(out, { light: true, inputHashes: true });
    const replan = () => run(cli("plan", "--out", out, "--skip-disk-check"), { env });
    const untouched = replan();
    touchAll(bids, Date.now() / 1000 + 3600);
    const first = replan();
    const next = replan();
    console.log(`${n} subjects: plan ${s(plan)}`);
    console.log(`  re-plan, nothing touched:                           ${s(untouched)}`);
    console.log(`  every input touched, first re-plan (all hashed):    ${s(first)}`);
    console.log(`  next re-plan (the cache answers):                   ${s(next)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
