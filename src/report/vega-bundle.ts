import { existsSync, promises as fsp } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/**
 * The Vega runtimes inlined into batch_report.html: their minified UMD builds (which define the
 * globals `vega`, `vegaLite`, `vegaEmbed`), read from node_modules once per process. The
 * packages' `exports` maps hide these files, so the package folder is found through Node's
 * module search paths instead of `require.resolve`.
 */
const BUILDS = [
  { pkg: "vega", file: "build/vega.min.js" },
  { pkg: "vega-lite", file: "build/vega-lite.min.js" },
  { pkg: "vega-embed", file: "build/vega-embed.min.js" },
] as const;

export interface VegaBundle {
  /** One script per package, in load order, safe to put inside a <script> element. */
  scripts: string[];
  versions: Record<string, string>;
}

export type VegaBundleResult = { kind: "ok"; bundle: VegaBundle } | { kind: "missing"; reason: string };

let cached: Promise<VegaBundleResult> | null = null;

/** The bundle, read on first use and kept for the life of the process. */
export function loadVegaBundle(): Promise<VegaBundleResult> {
  cached ??= readVegaBundle();
  return cached;
}

/** The installed folder of a package, searched like `require` would (nearest node_modules first). */
export function findPackageDir(pkg: string, from: string = import.meta.url): string | null {
  const require = createRequire(from);
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const candidate = path.join(dir, pkg);
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
  }
  return null;
}

/**
 * Make a script safe inside an HTML <script> element: `</script` (any case) and `<!--` would end
 * or confuse the element. In minified code they can only sit in strings, regexes or comments,
 * where `<\/` and `<\!--` mean the same.
 */
export function inlineScriptSafe(code: string): string {
  return code.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

async function readVegaBundle(): Promise<VegaBundleResult> {
  const scripts: string[] = [];
  const versions: Record<string, string> = {};
  for (const b of BUILDS) {
    const dir = findPackageDir(b.pkg);
    if (!dir) return { kind: "missing", reason: `package ${b.pkg} is not installed (run npm ci in cst-batch's folder)` };
    try {
      const [code, pkgJson] = await Promise.all([fsp.readFile(path.join(dir, b.file), "utf8"), fsp.readFile(path.join(dir, "package.json"), "utf8")]);
      scripts.push(inlineScriptSafe(code));
      versions[b.pkg] = String((JSON.parse(pkgJson) as { version?: unknown }).version ?? "?");
    } catch (e) {
      return { kind: "missing", reason: `cannot read ${path.join(dir, b.file)}: ${(e as Error).message}` };
    }
  }
  return { kind: "ok", bundle: { scripts, versions } };
}
