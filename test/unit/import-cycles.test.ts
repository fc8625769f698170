import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SCRIPT = path.resolve("scripts/check-cycles.mjs");
const check = (dir?: string) => spawnSync(process.execPath, [SCRIPT, ...(dir ? [dir] : [])], { encoding: "utf8" });

describe("import cycles", () => {
  it("src/ has none between its folders or its files (type-only imports aside)", () => {
    const r = check();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("the check finds a folder cycle and a file cycle, and ignores a type-only import", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cst-cycles-"));
    const put = (rel: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    };
    put("a/x.ts", 'import { y } from "../b/y.js";\nexport const x = y;\n');
    put("b/y.ts", 'import type { X } from "../a/x.js";\nexport const y = 1;\nexport type Y = X;\n');
    expect(check(dir).status).toBe(0);
    put("b/z.ts", 'import { x } from "../a/x.js";\nexport const z = x;\n');
    const folder = check(dir);
    expect(folder.status).toBe(1);
    expect(folder.stderr).toContain("folder cycle: a <-> b");
    put("c/p.ts", 'export { q } from "./q.js";\nexport const p = 1;\n');
    put("c/q.ts", 'import { p } from "./p.js";\nexport const q = p;\n');
    expect(check(dir).stderr).toContain("file cycle: c/p.ts <-> c/q.ts");
  });
});
