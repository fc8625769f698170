import picomatch from "picomatch";

/**
 * Globs on names (subject ids, folder names, file names), matched with picomatch within one path
 * segment: `*`, `?`, `[abc]`, `[!abc]` / `[^abc]`, `{a,b}` and `\` escapes. `posix` makes
 * picomatch read `[!` as a negated class; `dot` lets `*` match a leading `.`; `nonegate` keeps a
 * leading `!` literal (a subject filter is never a negation).
 */
const OPTIONS: picomatch.PicomatchOptions = { dot: true, nonegate: true, posix: true };

/** One glob as an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  return picomatch.makeRe(glob, OPTIONS);
}

/**
 * A flag value holding several globs separated by commas (`sub-01,sub-02`): split on the commas
 * outside `{...}` and `[...]` (so `sub-{01,02}` stays one glob); empty parts are dropped.
 */
export function splitGlobList(value: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inClass = false;
  let cur = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === "\\" && i + 1 < value.length) {
      cur += c + value[++i]!;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
    } else if (c === "[") inClass = true;
    else if (c === "{") depth++;
    else if (c === "}" && depth > 0) depth--;
    else if (c === "," && depth === 0) {
      parts.push(cur.trim());
      cur = "";
      continue;
    }
    cur += c;
  }
  parts.push(cur.trim());
  return parts.filter((p) => p !== "");
}

/** A compiled list of globs: `matches(name)` is true when any glob matches. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const res = globs.map(globToRegExp);
  return (name) => res.some((r) => r.test(name));
}
