/**
 * A small glob matcher for names (subject ids, folder names, file names): `*`, `?`, `[abc]`,
 * `[!abc]` / `[^abc]`, `{a,b}` and `\` escapes. No `/` handling: it matches one path segment.
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  let braceDepth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "\\" && i + 1 < glob.length) {
      re += escapeRegExp(glob[++i] as string);
    } else if (c === "*") {
      re += "[^/]*";
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const close = glob.indexOf("]", i + 2);
      if (close === -1) {
        re += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = close;
    } else if (c === "{") {
      braceDepth++;
      re += "(?:";
    } else if (c === "}" && braceDepth > 0) {
      braceDepth--;
      re += ")";
    } else if (c === "," && braceDepth > 0) {
      re += "|";
    } else {
      re += escapeRegExp(c);
    }
  }
  while (braceDepth-- > 0) re += ")";
  return new RegExp(`^${re}$`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** A compiled list of globs: `matches(name)` is true when any glob matches. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const res = globs.map(globToRegExp);
  return (name) => res.some((r) => r.test(name));
}
