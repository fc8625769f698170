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

/** A compiled list of globs: `matches(name)` is true when any glob matches. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const res = globs.map(globToRegExp);
  return (name) => res.some((r) => r.test(name));
}
