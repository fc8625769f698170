#!/usr/bin/env node
// Fails when src/ has an import cycle between its folders or between its files (type-only
// imports aside: they vanish at compile time). Run by test/unit/import-cycles.test.ts.
//
// usage: node scripts/check-cycles.mjs [SRC_DIR]
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "src"));

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

// `import x from "./a.js"`, `export { x } from "./a.js"`, `import("./a.js")`; not `import type` / `export type`.
const STATIC = /^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+["']([^"']+)["']/gm;
const BARE = /^\s*import\s+["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

function importsOf(file) {
  const text = readFileSync(file, "utf8");
  const specs = [];
  for (const m of text.matchAll(STATIC)) if (!m[2] && !/^\s*(import|export)\s+type\b/.test(m[0])) specs.push(m[3]);
  for (const m of text.matchAll(BARE)) specs.push(m[1]);
  for (const m of text.matchAll(DYNAMIC)) specs.push(m[1]);
  return specs
    .filter((s) => s.startsWith("."))
    .map((s) => path.resolve(path.dirname(file), s.replace(/\.js$/, ".ts")));
}

const files = sources(root);
const known = new Set(files);
const edges = new Map(files.map((f) => [f, importsOf(f).filter((t) => known.has(t))]));
const rel = (f) => path.relative(root, f);
const folderOf = (f) => {
  const d = path.dirname(rel(f));
  return d === "." ? rel(f) : d.split(path.sep)[0];
};

/** Strongly connected components with more than one member (Tarjan). */
function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const found = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

const folderGraph = new Map();
for (const [f, targets] of edges) {
  const a = folderOf(f);
  if (!folderGraph.has(a)) folderGraph.set(a, new Set());
  for (const t of targets) if (folderOf(t) !== a) folderGraph.get(a).add(folderOf(t));
}
const folderCycles = cycles(new Map([...folderGraph].map(([k, v]) => [k, [...v]])));
const fileCycles = cycles(edges).map((c) => c.map(rel));

for (const c of folderCycles) {
  const ties = [];
  for (const [f, targets] of edges) for (const t of targets) if (c.includes(folderOf(f)) && c.includes(folderOf(t)) && folderOf(f) !== folderOf(t)) ties.push(`${rel(f)} -> ${rel(t)}`);
  console.error(`folder cycle: ${c.join(" <-> ")}\n  ${ties.join("\n  ")}`);
}
for (const c of fileCycles) console.error(`file cycle: ${c.join(" <-> ")}`);
if (folderCycles.length || fileCycles.length) process.exit(1);
console.log(`no import cycles among ${files.length} files in ${new Set(files.map(folderOf)).size} folders of ${root}`);
