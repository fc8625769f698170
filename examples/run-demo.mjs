#!/usr/bin/env node
// The README's first command (`npm run demo`): make the demo BIDS tree, then run the whole batch
// in local mode with the csttool stand-in, collect, and print where everything is.
//
// usage: node examples/run-demo.mjs [--out DIR] [any extra cst-batch submit flags]
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let out = path.join(repo, "demo-out");
const outAt = args.indexOf("--out");
if (outAt >= 0) {
  out = path.resolve(args[outAt + 1]);
  args.splice(outAt, 2);
}
const bids = path.join(repo, "examples", "demo-bids");

const make = spawnSync(process.execPath, [path.join(repo, "examples", "make-demo-dataset.mjs"), bids], { stdio: "inherit" });
if (make.status !== 0) process.exit(make.status ?? 1);

const standin = path.join(repo, "test", "fixtures", "bin", "csttool");
process.stderr.write(
  "Running the demo with cst-batch's csttool stand-in (test/fixtures/bin/csttool), not the real csttool.\n",
);
const run = spawnSync(
  process.execPath,
  [
    path.join(repo, "bin", "cst-batch.js"),
    "submit",
    "--scheduler",
    "local",
    "--bids-dir",
    bids,
    "--out",
    out,
    "--csttool",
    standin,
    "--jobs",
    "2",
    ...args,
  ],
  { stdio: "inherit" },
);
if (run.status === 0) {
  process.stderr.write(`\nDemo finished. Look at:\n  ${path.join(out, "batch_summary.json")}\n  ${path.join(out, "batch_metrics.csv")}\n`);
}
process.exit(run.status ?? 1);
