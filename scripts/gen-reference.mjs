#!/usr/bin/env node
// Write docs/reference/{manifest,options,profile}.md and examples/manifest.jsonc from the zod
// schemas (via the built dist/). `--check`: write nothing, exit 1 naming the files that differ.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const built = path.join(repo, "dist", "report", "reference.js");
if (!existsSync(built)) {
  console.error("dist/ is missing: run `npm run build` first");
  process.exit(2);
}
const { referenceFiles } = await import(built);
const check = process.argv.includes("--check");
const stale = [];
for (const [rel, text] of Object.entries(referenceFiles())) {
  const file = path.join(repo, rel);
  const current = existsSync(file) ? readFileSync(file, "utf8") : null;
  if (current === text) continue;
  stale.push(rel);
  if (!check) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
}
if (check && stale.length) {
  console.error(`out of date (run npm run reference): ${stale.join(", ")}`);
  process.exit(1);
}
console.error(stale.length ? `wrote ${stale.join(", ")}` : "reference is up to date");
