import { readFileSync } from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// scripts/bundle.mjs rewrites esbuild's `__toESM(require("node:x"),1)` into `__nodeBuiltin(...)`
// (docs/architecture.md, "Start-up budget"). These pin what the built bundles hold (npm test builds first).
const BUNDLES = ["run-one.cjs", "cst-batch.cjs", "code-cache.cjs"].map((b) => path.resolve("dist", b));

describe("the bundles' Node built-ins", () => {
  it("every built-in import went through the rewrite: no esbuild copy of a built-in is left", () => {
    for (const file of BUNDLES) {
      const text = readFileSync(file, "utf8");
      expect(text, file).not.toMatch(/__toESM\(require\("node:/);
      expect(text, file).toContain("const __nodeBuiltin = (m) => Object.create(m, { default: { value: m, enumerable: true } });");
    }
    expect(readFileSync(BUNDLES[0]!, "utf8")).toMatch(/__nodeBuiltin\(require\("node:fs"\)\)/);
  });

  it("a rewritten built-in reads live through its prototype: run-one's bundle runs and answers --help", () => {
    const r = spawnSync(process.execPath, [path.resolve("bin/cst-batch.js"), "run-one", "--help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("--adopt-existing");
  });
});
