#!/usr/bin/env node
// CommonJS on purpose (bin/package.json): the start-up path stays synchronous and skips the ES
// module loader.
"use strict";
const path = require("node:path");
const { existsSync } = require("node:fs");
const nodeModule = require("node:module");

// Node >= 22.1: keep V8's compiled code of our modules on disk, so later starts skip parsing and
// compiling them. Best effort; absent on older Node.
if (typeof nodeModule.enableCompileCache === "function") {
  try {
    nodeModule.enableCompileCache();
  } catch {
    // no writable cache folder: run without it
  }
}

function finish(promise, after) {
  promise.then(
    (code) => {
      process.exitCode = code;
      if (after) after();
    },
    (e) => {
      process.stderr.write(`error: internal error: ${e && e.stack ? e.stack : e}\n`);
      process.exitCode = 1;
    },
  );
}

// The CLI runs from one bundled file compiled through V8's code cache (scripts/bundle.mjs):
// dist/run-one.cjs for run-one (once per subject on every compute node), dist/cst-batch.cjs for
// the rest. CST_BATCH_NO_BUNDLE=1 runs the plain ES modules in dist/ instead.
const dist = path.join(__dirname, "..", "dist");
const bundle = path.join(dist, process.argv[2] === "run-one" ? "run-one.cjs" : "cst-batch.cjs");
if (process.env.CST_BATCH_NO_BUNDLE !== "1" && existsSync(bundle)) {
  const { loadBundleWithCodeCache } = require(path.join(dist, "code-cache.cjs"));
  const loaded = loadBundleWithCodeCache(bundle);
  finish(loaded.exports.main(process.argv), () => loaded.saveCache());
} else {
  finish(import("../dist/cli/main.js").then(({ main }) => main(process.argv)));
}
