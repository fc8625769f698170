#!/usr/bin/env node
// Fails when a runtime dependency in package.json is used by no file under src/: a package that
// is installed on every cluster but serves nothing. Used means imported (import, import(),
// require()), or named as a whole string literal: the Vega packages are not imported but their
// files are read by package name (src/report/vega-bundle.ts). `node scripts/check-deps.mjs [ROOT]`.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(process.argv[2] ?? fileURLToPath(new URL("..", import.meta.url)));
const dependencies = Object.keys(JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).dependencies ?? {});

// Every module specifier of an import/export ... from, a side-effect import, import() or require().
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"'./][^"']*)["']/g;
// A quoted string that could be a package name ("vega-lite", "@scope/pkg").
const NAME_LITERAL = /["']((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)["']/g;

// The package a specifier names: "vega-lite/build/x" -> "vega-lite", "@scope/pkg/x" -> "@scope/pkg".
function packageOf(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(full);
    else if (/\.(?:[cm]?[jt]s|tsx)$/.test(entry.name)) yield full;
  }
}

const used = new Set();
for (const file of sourceFiles(path.join(root, "src"))) {
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(SPECIFIER)) used.add(packageOf(m[1]));
  for (const m of text.matchAll(NAME_LITERAL)) used.add(m[1]);
}
const unused = dependencies.filter((d) => !used.has(d));
if (unused.length > 0) {
  console.error(`scripts/check-deps.mjs: dependencies that nothing under src/ imports or names: ${unused.join(", ")}`);
  console.error("use them, or remove them with `npm uninstall` (a tool used only by tests or scripts belongs in devDependencies)");
  process.exit(1);
}
console.log(`scripts/check-deps.mjs: all ${dependencies.length} dependencies are used under src/`);
