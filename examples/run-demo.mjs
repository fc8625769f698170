#!/usr/bin/env node
// The README's first command (`npm run demo`): make the demo BIDS tree, then run the whole batch
// in local mode with the csttool stand-in, collect, and print where everything is.
//
// usage: node examples/run-demo.mjs [--out DIR] [--with-failure] [any extra cst-batch submit flags]
//   --with-failure: the stand-in fails sub-02 on purpose, to show what a failure looks like. It
//   writes into its own folder (demo-out-with-failure) unless --out is given: after a plain demo
//   every subject of demo-out is done, and a resumed run would have nothing left to fail.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const withFailure = args.includes("--with-failure");
if (withFailure) args.splice(args.indexOf("--with-failure"), 1);
let out = path.join(repo, withFailure ? "demo-out-with-failure" : "demo-out");
const outAt = args.indexOf("--out");
if (outAt >= 0) {
  out = path.resolve(args[outAt + 1]);
  args.splice(outAt, 2);
}
const bids = path.join(repo, "examples", "demo-bids");

// Made once and then kept, so that a second `npm run demo` resumes instead of starting over.
if (!existsSync(path.join(bids, "dataset_description.json"))) {
  const make = spawnSync(process.execPath, [path.join(repo, "examples", "make-demo-dataset.mjs"), bids], { stdio: "inherit" });
  if (make.status !== 0) process.exit(make.status ?? 1);
}

const standin = path.join(repo, "test", "fixtures", "bin", "csttool");
process.stderr.write(
  "Running the demo with cst-batch's csttool stand-in (test/fixtures/bin/csttool), not the real csttool.\n",
);
const env = { ...process.env };
if (withFailure) {
  const config = path.join(mkdtempSync(path.join(os.tmpdir(), "cst-demo-")), "standin-behaviours.json");
  writeFileSync(config, JSON.stringify({ "sub-02": "fail" }));
  env.CSTTOOL_STANDIN_CONFIG = config;
  process.stderr.write("--with-failure: the stand-in fails sub-02 on purpose.\n");
}
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
  { stdio: "inherit", env },
);
const report = path.join(out, "batch_report.html");
if (run.status === 0) {
  process.stderr.write(
    `\nDemo finished. Open ${report} in a browser; the numbers are in ${path.join(out, "batch_metrics.csv")}.\n`,
  );
  process.exit(0);
}
if (withFailure && run.status === 4) {
  process.stderr.write(
    `\nDemo finished with sub-02 failed, as asked. Find out why:\n` +
      `  ${report}                      (the subjects table: sub-02's category and error log link)\n` +
      `  ${path.join(out, "logs", "sub-02_error.log")}   (csttool's output; the last lines name the category and the next step)\n` +
      `  node bin/cst-batch.js status --out ${out}\n` +
      `Then rerun only the failure (the stand-in no longer fails it): node bin/cst-batch.js resubmit --out ${out} --failed\n`,
  );
  process.exit(0);
}
process.exit(run.status ?? 1);
