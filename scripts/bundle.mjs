#!/usr/bin/env node
// Bundle the CLI into CommonJS files that bin/cst-batch.js compiles through V8's code cache
// (dist/code-cache.cjs, the loader, is built here too): dist/run-one.cjs holds run-one alone
// (src/cli/run-one-main.ts: it starts once per subject on every compute node), dist/cst-batch.cjs
// every command. One file compiled once per machine, instead of ~150 ES modules resolved and
// compiled on every start.
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

// esbuild turns each default or namespace import of a Node built-in (`import fs from "node:fs"`)
// into __toESM(require("node:fs"), 1), which copies every export of the module onto a new object
// as a getter: 27 such copies in run-one, ~3 ms and ~250 KB at every start. An object whose
// prototype is the module reads the same values, with nothing copied.
const NODE_BUILTIN_HELPER = "const __nodeBuiltin = (m) => Object.create(m, { default: { value: m, enumerable: true } });";
const NODE_BUILTIN_INTEROP = /__toESM\((require\("node:[a-z_/]+"\)),1\)/g;
// jsonc-parser's "main" is a UMD build whose require() calls esbuild cannot follow (they go through
// the factory's own `require` parameter); its "module" build is plain ES modules, so bundle that.
const JSONC_PARSER_ESM = path.join(path.dirname(createRequire(import.meta.url).resolve("jsonc-parser/package.json")), "lib", "esm", "main.js");
const umdToEsm = {
  name: "umd-to-esm",
  setup(b) {
    b.onResolve({ filter: /^jsonc-parser$/ }, () => ({ path: JSONC_PARSER_ESM }));
  },
};
const common = {
  absWorkingDir: root,
  plugins: [umdToEsm],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // CommonJS has no import.meta: modules that locate files from their own URL get the bundle's.
  define: { "import.meta.url": "__cst_batch_bundle_url" },
  banner: { js: `"use strict";\nconst __cst_batch_bundle_url = require("node:url").pathToFileURL(__filename).href;\n${NODE_BUILTIN_HELPER}` },
  // Smaller to read on every start; names are kept for readable stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
  // Finished and written below.
  write: false,
};
const built = await Promise.all([
  build({ ...common, entryPoints: ["src/cli/run-one-main.ts"], outfile: "dist/run-one.cjs" }),
  // Every other command: the whole CLI, its commands' modules initialised only when imported.
  build({ ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/cst-batch.cjs" }),
  build({ ...common, entryPoints: ["src/cli/code-cache.ts"], outfile: "dist/code-cache.cjs" }),
]);

// Each bundle is finished here and written once: Node built-ins through `__nodeBuiltin`, and
// everything a command needs inside its bundle (a dynamic import() left in one would need the
// ES module loader, and fails under vm.Script on Node 20 releases before 20.13).
for (const out of built.flatMap((r) => r.outputFiles)) {
  const name = `dist/${path.basename(out.path)}`;
  const text = out.text.replace(NODE_BUILTIN_INTEROP, "__nodeBuiltin($1)");
  if (text.includes('__toESM(require("node:')) {
    console.error(`scripts/bundle.mjs: ${name} imports a Node built-in in a form NODE_BUILTIN_INTEROP does not match (did esbuild's output change?); update the pattern`);
    process.exit(1);
  }
  const left = text.match(/\bimport\(\s*["'`][^"'`]*["'`]\s*\)/g);
  if (left) {
    console.error(`scripts/bundle.mjs: ${name} keeps dynamic import(s) ${[...new Set(left)].join(", ")}; import them statically, or from a package esbuild can bundle`);
    process.exit(1);
  }
  mkdirSync(path.dirname(out.path), { recursive: true });
  writeFileSync(out.path, text);
}
