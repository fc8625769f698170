import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HashCache } from "../../../src/plan/hash-cache.js";
import { inputHashesDir } from "../../../src/layout.js";
import { tempDir } from "../../helpers/cli.js";

const entry = (n: number) => ({ ino: n, sha256: String(n).repeat(64).slice(0, 64) });

describe("the input-hash cache's shards", () => {
  it("holds one shard at a time: a shard left is staged, read again from its staged file, and in place only after commit", () => {
    const out = tempDir("cst-hash-cache-");
    const cache = new HashCache(out, true);
    cache.use(3);
    cache.set("a", entry(1));
    cache.use(5);
    expect(cache.get("a")).toBeUndefined();
    cache.set("b", entry(2));
    cache.use(3);
    expect(cache.get("a")).toEqual(entry(1));
    const dir = inputHashesDir(out);
    expect(readdirSync(dir).every((n) => n.endsWith(".staged"))).toBe(true);
    cache.commit();
    expect(readdirSync(dir).sort()).toEqual(["03.json", "05.json"]);
    const later = new HashCache(out, true);
    later.use(5);
    expect(later.get("b")).toEqual(entry(2));
  });

  it("a dry run's cache (persist false) writes nothing, and discard leaves nothing staged", () => {
    const out = tempDir("cst-hash-cache-");
    const dry = new HashCache(out, false);
    dry.use(1);
    dry.set("a", entry(1));
    dry.use(2);
    dry.commit();
    expect(existsSync(inputHashesDir(out))).toBe(false);
    const real = new HashCache(out, true);
    real.use(1);
    real.set("a", entry(1));
    real.use(2);
    real.discard();
    expect(readdirSync(inputHashesDir(out))).toEqual([]);
  });

  it("staged shards a killed plan left are removed by the next plan when over an hour old, never a running plan's", () => {
    const out = tempDir("cst-hash-cache-");
    const dir = inputHashesDir(out);
    mkdirSync(dir, { recursive: true });
    const old = path.join(dir, "07.json.0123456789ab.staged");
    const fresh = path.join(dir, "08.json.0123456789ab.staged");
    const mine = path.join(dir, "notes.staged");
    for (const f of [old, fresh, mine]) writeFileSync(f, "{}");
    const hourAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(old, hourAgo, hourAgo);
    utimesSync(mine, hourAgo, hourAgo);
    new HashCache(out, false);
    expect(existsSync(old)).toBe(true);
    new HashCache(out, true);
    expect(readdirSync(dir).sort()).toEqual(["08.json.0123456789ab.staged", "notes.staged"]);
  });

  it("a damaged shard is empty and a damaged entry is a miss (only a cache); the good entries beside it are used", () => {
    const out = tempDir("cst-hash-cache-");
    const dir = inputHashesDir(out);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "01.json"), "{ not json");
    writeFileSync(path.join(dir, "02.json"), JSON.stringify({ schema_version: 1, kind: "cst-batch-input-hashes", entries: { good: entry(7), bad: { ino: "7", sha256: 5 }, toString: entry(1) } }));
    const cache = new HashCache(out, false);
    cache.use(1);
    expect(cache.get("good")).toBeUndefined();
    cache.use(2);
    expect(cache.get("good")).toEqual(entry(7));
    expect(cache.get("bad")).toBeUndefined();
    expect(cache.get("constructor")).toBeUndefined();
    expect(cache.get("toString")).toEqual(entry(1));
  });

  it("a shard written keeps only the keys its tasks can still ask for (a file touched again and again does not grow it)", () => {
    const out = tempDir("cst-hash-cache-");
    const cache = new HashCache(out, true);
    cache.use(4, () => new Set(["planned", "now"]));
    cache.set("planned", entry(1));
    cache.set("touched-last-week", entry(2));
    cache.set("now", entry(3));
    cache.use(5);
    cache.commit();
    const doc = JSON.parse(readFileSync(path.join(inputHashesDir(out), "04.json"), "utf8"));
    expect(Object.keys(doc.entries).sort()).toEqual(["now", "planned"]);
  });

  it("a shard is written entry by entry as the JSON of its document: odd keys, a damaged entry kept as read, over 1 MB in several writes, only live keys", () => {
    const out = tempDir("cst-hash-cache-");
    const dir = inputHashesDir(out);
    mkdirSync(dir, { recursive: true });
    const entries: Record<string, unknown> = { 'a "quoted"\u0000path\u00001\u00002': entry(1), "dwi/é\\x": entry(2), damaged: { ino: "7", sha256: 5 }, "12": entry(3) };
    for (let n = 0; n < 9000; n++) entries[`/study/sub-${n}/dwi/sub-${n}_dwi.nii.gz\u0000${n}\u0000${1.7e12 + n / 3}`] = entry(n);
    writeFileSync(path.join(dir, "06.json"), JSON.stringify({ schema_version: 1, kind: "cst-batch-input-hashes", entries }));
    const dropped = "/study/sub-5/dwi/sub-5_dwi.nii.gz\u00005\u0000" + String(1.7e12 + 5 / 3);
    const cache = new HashCache(out, true);
    cache.use(6, () => new Set(Object.keys(entries).filter((k) => k !== dropped).concat("new")));
    cache.set("new", entry(4));
    cache.commit();
    const { [dropped]: _gone, ...kept } = entries;
    const text = readFileSync(path.join(dir, "06.json"), "utf8");
    expect(text.length).toBeGreaterThan(1 << 20);
    expect(text).toBe(JSON.stringify({ schema_version: 1, kind: "cst-batch-input-hashes", entries: { ...kept, new: entry(4) } }) + "\n");
  });

  it("the single file of an earlier cst-batch stays when the shards cannot be written (what was moved from it is not lost)", () => {
    const out = tempDir("cst-hash-cache-");
    mkdirSync(path.join(out, ".cst-batch"), { recursive: true });
    const single = path.join(out, ".cst-batch", "input-hashes.json");
    writeFileSync(single, JSON.stringify({ schema_version: 1, kind: "cst-batch-input-hashes", entries: { old: entry(9) } }));
    writeFileSync(inputHashesDir(out), "a file where the shards' folder goes");
    const cache = new HashCache(out, true);
    cache.use(0);
    expect(cache.get("old")).toEqual(entry(9));
    cache.use(1);
    cache.commit();
    expect(existsSync(single)).toBe(true);
  });
});
