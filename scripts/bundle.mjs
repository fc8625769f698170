#!/usr/bin/env node
// Bundle run-one's entry point (src/cli/run-one-main.ts and everything it imports, zod and
// commander included) into one CommonJS file, dist/run-one.cjs, and the loader that compiles it
// with V8's code cache into dist/code-cache.cjs. bin/cst-batch.js uses both when the command is
// run-one: one file compiled once per machine, instead of ~100 ES modules resolved and compiled
// on every array task's start.
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
  // Smaller to read and hash on every start; names are kept for readable stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
};
await Promise.all([
  build({ ...common, entryPoints: ["src/cli/run-one-main.ts"], outfile: "dist/run-one.cjs" }),
  build({ ...common, entryPoints: ["src/cli/code-cache.ts"], outfile: "dist/code-cache.cjs" }),
]);

// Everything run-one needs must be inside the bundle: a dynamic import() left in it would need
// the ES module loader (and fails under vm.Script on older Node 20 releases).
const left = readFileSync(new URL("../dist/run-one.cjs", import.meta.url), "utf8").match(/\bimport\(\s*["'`][^"'`]*["'`]\s*\)/g);
if (left) {
  console.error(`scripts/bundle.mjs: dist/run-one.cjs keeps dynamic import(s) ${[...new Set(left)].join(", ")}; import them statically on run-one's path`);
  process.exit(1);
}
