import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const REPO = path.resolve(import.meta.dirname, "..", "..");
const SCRIPT = path.join(REPO, "scripts", "check-deps.mjs");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function checkDeps(root?: string) {
  return spawnSync(process.execPath, root ? [SCRIPT, root] : [SCRIPT], { encoding: "utf8" });
}

/** A project folder with these dependencies and these files under src/. */
function project(dependencies: string[], files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "cst-deps-"));
  dirs.push(root);
  writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "p", dependencies: Object.fromEntries(dependencies.map((d) => [d, "^1.0.0"])) }));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, "src", name)), { recursive: true });
    writeFileSync(path.join(root, "src", name), text);
  }
  return root;
}

describe("scripts/check-deps.mjs", () => {
  it("passes on this repository: every runtime dependency is used under src/", () => {
    const r = checkDeps();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("fails and names a dependency that src/ only mentions in a comment", () => {
    const root = project(["used-a", "@scope/used-b", "used-c", "assets-d", "unused-e"], {
      "a.ts": 'import { x } from "used-a/sub/path.js";\n// like `unused-e`, but without it\n',
      "nested/b.ts": 'export const load = () => import("@scope/used-b");\n',
      "c.cjs": 'const c = require("used-c");\n',
      "d.ts": 'const BUILDS = [{ pkg: "assets-d", file: "build/d.min.js" }];\n',
    });
    const r = checkDeps(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/: unused-e\n/);
  });
});
