import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { codeCacheDirs, codeCacheName, fnv1a64, loadBundleWithCodeCache } from "../../../src/cli/code-cache.js";

/** The loader that compiles dist/run-one.cjs with V8's code cache (bin/cst-batch.js uses it). */

const LOADER = path.resolve(import.meta.dirname, "../../../dist/code-cache.cjs");

const tmps: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "cst-code-cache-"));
  tmps.push(d);
  return d;
}
afterEach(() => {
  for (const d of tmps.splice(0)) {
    chmodSync(d, 0o755);
    rmSync(d, { recursive: true, force: true });
  }
});

/** A CommonJS bundle with a few functions, so V8 has compiled code worth caching. */
function writeBundle(dir: string, answer: number): string {
  const file = path.join(dir, "run-one.cjs");
  const helpers = Array.from({ length: 50 }, (_, i) => `function f${i}(x) { return x + ${i}; }`).join("\n");
  writeFileSync(file, `"use strict";\n${helpers}\nexports.main = function main() { return f0(${answer}) + require("node:path").sep.length - 1; };\nexports.file = __filename;\n`);
  return file;
}

describe("loadBundleWithCodeCache", () => {
  test("compiles afresh the first time, writes the cache, and reuses it the next time", async () => {
    const dir = tmp();
    const bundle = writeBundle(dir, 41);
    const env = { CST_BATCH_CODE_CACHE: path.join(dir, "cache") };
    const first = loadBundleWithCodeCache(bundle, env);
    expect(first.cache).toBe("miss");
    expect((first.exports.main as () => number)()).toBe(41);
    expect(first.exports.file).toBe(bundle);
    await first.saveCache();
    expect(first.cacheFile).not.toBeNull();
    expect(statSync(first.cacheFile!).size).toBeGreaterThan(0);

    const second = loadBundleWithCodeCache(bundle, env);
    expect(second.cache).toBe("hit");
    expect(second.cacheFile).toBe(first.cacheFile);
    expect((second.exports.main as () => number)()).toBe(41);
  });

  test("CST_BATCH_CODE_CACHE=off: nothing read or written", async () => {
    const dir = tmp();
    const bundle = writeBundle(dir, 1);
    const loaded = loadBundleWithCodeCache(bundle, { CST_BATCH_CODE_CACHE: "off", HOME: dir });
    expect(loaded.cache).toBe("off");
    await loaded.saveCache();
    expect(readdirSync(dir)).toEqual(["run-one.cjs"]);
  });

  // V8 checks a cache's header and length (its checksum only in debug builds); files are written
  // whole (temp file + rename), so a cut-off file is the damage to expect. V8 also keeps compiled
  // code in memory per process, so each load here is its own process (the built loader in dist/).
  test("a cut-off cache file is rejected by V8, the code still runs, and the file is rewritten", async () => {
    const dir = tmp();
    const bundle = writeBundle(dir, 7);
    const env = { ...process.env, CST_BATCH_CODE_CACHE: path.join(dir, "cache") };
    const load = (): { cache: string; answer: number } => {
      const script = `const l = require(${JSON.stringify(LOADER)}).loadBundleWithCodeCache(${JSON.stringify(bundle)}); const answer = l.exports.main(); l.saveCache().then(() => console.log(JSON.stringify({ cache: l.cache, answer })));`;
      const r = spawnSync(process.execPath, ["-e", script], { env, encoding: "utf8" });
      expect(r.stderr).toBe("");
      return JSON.parse(r.stdout) as { cache: string; answer: number };
    };
    expect(load()).toEqual({ cache: "miss", answer: 7 });
    expect(load()).toEqual({ cache: "hit", answer: 7 });
    const [name] = readdirSync(path.join(dir, "cache"));
    const file = path.join(dir, "cache", name!);
    const good = readFileSync(file);
    writeFileSync(file, good.subarray(0, Math.floor(good.length / 2)));
    expect(load()).toEqual({ cache: "rejected", answer: 7 });
    expect(readFileSync(file).length).toBe(good.length);
    expect(load()).toEqual({ cache: "hit", answer: 7 });
  });

  test("a rebuilt bundle of the same length never meets the old cache", async () => {
    const dir = tmp();
    const bundle = writeBundle(dir, 10);
    const env = { CST_BATCH_CODE_CACHE: path.join(dir, "cache") };
    const old = loadBundleWithCodeCache(bundle, env);
    await old.saveCache();
    writeBundle(dir, 20); // same length, other code
    utimesSync(bundle, new Date(), new Date(Date.now() + 5_000));
    const rebuilt = loadBundleWithCodeCache(bundle, env);
    expect(rebuilt.cache).toBe("miss");
    expect((rebuilt.exports.main as () => number)()).toBe(20);
  });

  test("an unwritable folder beside the bundle: the cache goes to the user's cache folder", async () => {
    const dir = tmp();
    const install = path.join(dir, "install");
    mkdirSync(install);
    const bundle = writeBundle(install, 3);
    const home = path.join(dir, "home");
    mkdirSync(home);
    // A read-only install (root can write anyway, so the folder beside the bundle is a file).
    writeFileSync(path.join(install, ".code-cache"), "not a folder");
    const loaded = loadBundleWithCodeCache(bundle, { HOME: home });
    await loaded.saveCache();
    expect(loaded.cacheFile?.startsWith(path.join(home, ".cache", "cst-batch") + path.sep)).toBe(true);
    expect(loadBundleWithCodeCache(bundle, { HOME: home }).cache).toBe("hit");
  });

  test("nowhere writable: runs without a cache", async () => {
    const dir = tmp();
    const bundle = writeBundle(dir, 5);
    writeFileSync(path.join(dir, "blocked"), "");
    const loaded = loadBundleWithCodeCache(bundle, { CST_BATCH_CODE_CACHE: path.join(dir, "blocked", "sub") });
    expect((loaded.exports.main as () => number)()).toBe(5);
    await loaded.saveCache();
    expect(loaded.cacheFile).toBeNull();
  });

  test("caches of other builds are pruned once an hour old; recent ones (another Node) are kept", async () => {
    const dir = tmp();
    const bundle = writeBundle(dir, 2);
    const cache = path.join(dir, "cache");
    mkdirSync(cache);
    const stale = path.join(cache, "run-one.cjs.0000000000000000.v8cache");
    const recent = path.join(cache, "run-one.cjs.1111111111111111.v8cache");
    const unrelated = path.join(cache, "other.cjs.2222222222222222.v8cache");
    for (const f of [stale, recent, unrelated]) writeFileSync(f, "x");
    const hourAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(stale, hourAgo, hourAgo);
    utimesSync(unrelated, hourAgo, hourAgo);
    const loaded = loadBundleWithCodeCache(bundle, { CST_BATCH_CODE_CACHE: cache });
    await loaded.saveCache();
    expect(readdirSync(cache).sort()).toEqual([path.basename(loaded.cacheFile!), path.basename(recent), path.basename(unrelated)].sort());
  });
});

describe("cache naming", () => {
  test("default folders: beside the bundle, then XDG_CACHE_HOME or ~/.cache", () => {
    expect(codeCacheDirs("/opt/cst/dist/run-one.cjs", { HOME: "/home/u" })).toEqual(["/opt/cst/dist/.code-cache", "/home/u/.cache/cst-batch"]);
    expect(codeCacheDirs("/opt/cst/dist/run-one.cjs", { HOME: "/home/u", XDG_CACHE_HOME: "/x" })).toEqual(["/opt/cst/dist/.code-cache", "/x/cst-batch"]);
    expect(codeCacheDirs("/opt/cst/dist/run-one.cjs", { CST_BATCH_CODE_CACHE: "rel" })).toEqual([path.resolve("rel")]);
  });

  test("the name changes with the bundle's size, mtime and inode", () => {
    const base = { size: 100, mtimeMs: 1, ino: 5 };
    const a = codeCacheName("/d/run-one.cjs", base);
    expect(a).toMatch(/^run-one\.cjs\.[0-9a-f]{16}\.v8cache$/);
    expect(codeCacheName("/d/run-one.cjs", { ...base, size: 101 })).not.toBe(a);
    expect(codeCacheName("/d/run-one.cjs", { ...base, mtimeMs: 2 })).not.toBe(a);
    expect(codeCacheName("/d/run-one.cjs", { ...base, ino: 6 })).not.toBe(a);
    expect(codeCacheName("/d/run-one.cjs", base)).toBe(a);
  });

  test("fnv1a64 is stable and spreads", () => {
    expect(fnv1a64("")).toBe(fnv1a64(""));
    expect(fnv1a64("a")).not.toBe(fnv1a64("b"));
    expect(fnv1a64("ab")).not.toBe(fnv1a64("ba"));
    expect(fnv1a64("abc")).toMatch(/^[0-9a-f]{16}$/);
  });
});
