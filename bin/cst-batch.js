#!/usr/bin/env node
// CommonJS on purpose (bin/package.json): run-one's start-up path below stays synchronous and
// skips the ES module loader; everything else imports the ES modules in dist/.
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

function fail(e) {
  process.stderr.write(`error: internal error: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 1;
}

// run-one starts once per subject on every compute node: it runs from one bundled file compiled
// through V8's code cache (scripts/bundle.mjs). CST_BATCH_NO_BUNDLE=1 uses the plain modules.
const dist = path.join(__dirname, "..", "dist");
const bundle = path.join(dist, "run-one.cjs");
if (process.argv[2] === "run-one" && process.env.CST_BATCH_NO_BUNDLE !== "1" && existsSync(bundle)) {
  const { loadBundleWithCodeCache } = require(path.join(dist, "code-cache.cjs"));
  const loaded = loadBundleWithCodeCache(bundle);
  loaded.exports.main(process.argv).then((code) => {
    process.exitCode = code;
    loaded.saveCache();
  }, fail);
} else {
  import("../dist/cli/main.js").then(({ main }) => main(process.argv)).then((code) => {
    process.exitCode = code;
  }, fail);
}
