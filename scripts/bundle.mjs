#!/usr/bin/env node
// Bundle the CLI into CommonJS files that bin/cst-batch.js compiles through V8's code cache
// (dist/code-cache.cjs, the loader, is built here too): dist/run-one.cjs holds run-one alone
// (src/cli/run-one-main.ts: it starts once per subject on every compute node), dist/cst-batch.cjs
// every command. One file compiled once per machine, instead of ~150 ES modules resolved and
// compiled on every start.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // CommonJS has no import.meta: modules that locate files from their own URL get the bundle's.
  define: { "import.meta.url": "__cst_batch_bundle_url" },
  banner: { js: `"use strict";\nconst __cst_batch_bundle_url = require("node:url").pathToFileURL(__filename).href;` },
  // Smaller to read on every start; names are kept for readable stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
};
await Promise.all([
  build({ ...common, entryPoints: ["src/cli/run-one-main.ts"], outfile: "dist/run-one.cjs" }),
  // Every other command: the whole CLI, its commands' modules initialised only when imported.
  build({ ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/cst-batch.cjs" }),
  build({ ...common, entryPoints: ["src/cli/code-cache.ts"], outfile: "dist/code-cache.cjs" }),
]);

// Everything a command needs must be inside its bundle: a dynamic import() left in one would
// need the ES module loader (and fails under vm.Script on Node 20 releases before 20.13).
for (const bundle of ["run-one.cjs", "cst-batch.cjs"]) {
  const left = readFileSync(new URL(`../dist/${bundle}`, import.meta.url), "utf8").match(/\bimport\(\s*["'`][^"'`]*["'`]\s*\)/g);
  if (left) {
    console.error(`scripts/bundle.mjs: dist/${bundle} keeps dynamic import(s) ${[...new Set(left)].join(", ")}; import them statically, or from a package esbuild can bundle`);
    process.exit(1);
  }
}
