import { mkdirSync, readFileSync, readdirSync, statSync, unlinkSync, type Stats } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import { writeFileAtomic } from "../util/atomic-write.js";

/** How the compiled code was found: reused from disk, compiled afresh, or caching turned off. */
export type CodeCacheState = "hit" | "miss" | "rejected" | "off";

export interface LoadedBundle {
  exports: Record<string, unknown>;
  cache: CodeCacheState;
  /** The cache file in use (null when caching is off). */
  cacheFile: string | null;
  /** Write V8's code for the functions run so far, when the cache was missing or stale (never rejects). */
  saveCache(): Promise<void>;
}

/**
 * Folders to keep V8's compiled code in, first usable wins: CST_BATCH_CODE_CACHE (a folder, or
 * "off"), else a folder beside the bundle, else the user's cache folder.
 */
export function codeCacheDirs(bundleFile: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const setting = env.CST_BATCH_CODE_CACHE;
  if (setting === "off" || setting === "0") return [];
  if (setting) return [path.resolve(setting)];
  const home = env.HOME || os.homedir();
  const userCache = env.XDG_CACHE_HOME ? path.join(env.XDG_CACHE_HOME, "cst-batch") : home ? path.join(home, ".cache", "cst-batch") : null;
  return [path.join(path.dirname(bundleFile), ".code-cache"), ...(userCache ? [userCache] : [])];
}

/** 64-bit FNV-1a of a short string, as hex (not a security hash; node:crypto costs ~8 ms to load). */
export function fnv1a64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}

/**
 * The cache file's name: which build of the bundle (size, mtime, inode: every build rewrites it)
 * and which Node/V8. V8 itself checks only the source's length, so a rebuilt bundle of the same
 * length must never meet an older cache.
 */
export function codeCacheName(bundleFile: string, st: Pick<Stats, "size" | "mtimeMs" | "ino">): string {
  const key = fnv1a64(`${st.size}\0${st.mtimeMs}\0${st.ino}\0${process.version}\0${process.versions.v8}\0${process.arch}\0${process.execArgv.join(" ")}`);
  return `${path.basename(bundleFile)}.${key}.v8cache`;
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Remove this bundle's caches from other builds or Node versions, once they are an hour old
 * (a cluster that mixes two Node versions keeps both).
 */
function pruneOldCaches(dir: string, bundleName: string, keep: string, now = Date.now()): void {
  try {
    for (const entry of readdirSync(dir)) {
      if (entry === keep || !entry.startsWith(`${bundleName}.`) || !entry.endsWith(".v8cache")) continue;
      const file = path.join(dir, entry);
      try {
        if (now - statSync(file).mtimeMs > 3_600_000) unlinkSync(file);
      } catch {
        // gone already, or not ours to remove
      }
    }
  } catch {
    // folder unreadable: nothing to prune
  }
}

/**
 * Load a CommonJS bundle the way `require` would, but compiled with V8's code cache: on Node 20
 * (no module.enableCompileCache) this is what keeps a short-lived process from parsing and
 * compiling the same half-megabyte of JavaScript on every start.
 */
export function loadBundleWithCodeCache(bundleFile: string, env: NodeJS.ProcessEnv = process.env): LoadedBundle {
  const source = readFileSync(bundleFile, "utf8");
  const dirs = codeCacheDirs(bundleFile, env);
  const name = dirs.length > 0 ? codeCacheName(bundleFile, statSync(bundleFile)) : null;
  let cacheFile: string | null = null;
  let cachedData: Buffer | undefined;
  if (name !== null) {
    for (const dir of dirs) {
      cachedData = readIfPresent(path.join(dir, name));
      if (cachedData !== undefined) {
        cacheFile = path.join(dir, name);
        break;
      }
    }
  }
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  // A dynamic import() left in the bundle resolves like one in a plain module (Node >= 20.13).
  const importModuleDynamically = (vm as unknown as { constants?: { USE_MAIN_CONTEXT_DEFAULT_LOADER?: symbol } }).constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  const script = new vm.Script(wrapper, {
    filename: bundleFile,
    ...(cachedData ? { cachedData } : {}),
    ...(importModuleDynamically ? { importModuleDynamically: importModuleDynamically as never } : {}),
  });
  const cache: CodeCacheState = name === null ? "off" : cachedData === undefined ? "miss" : script.cachedDataRejected ? "rejected" : "hit";
  const fn = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  const mod = { exports: {} as Record<string, unknown> };
  fn.call(mod.exports, mod.exports, createRequire(bundleFile), mod, bundleFile, path.dirname(bundleFile));
  let saved = false;
  return {
    exports: mod.exports,
    cache,
    get cacheFile() {
      return cacheFile;
    },
    async saveCache() {
      if (saved || name === null || cache === "hit") return;
      saved = true;
      let data: Buffer;
      try {
        data = script.createCachedData();
      } catch {
        return;
      }
      // A stale file is replaced where it was found; a missing one goes to the first writable folder.
      const targets = cacheFile !== null ? [path.dirname(cacheFile)] : dirs;
      for (const dir of targets) {
        try {
          // Not node:fs/promises: loading it (and the readline and watcher modules it pulls in) costs every start.
          mkdirSync(dir, { recursive: true });
          await writeFileAtomic(path.join(dir, name), data);
        } catch {
          continue;
        }
        cacheFile = path.join(dir, name);
        pruneOldCaches(dir, path.basename(bundleFile), name);
        return;
      }
    },
  };
}
