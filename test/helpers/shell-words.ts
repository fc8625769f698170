/** Split a command line as a POSIX shell would for the quoting shellQuote produces (bare words, '...' with '\''). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === " ") {
      if (word !== null) words.push(word);
      word = null;
    } else if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed quote in ${line}`);
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (ch === "\\") {
      word = (word ?? "") + line[++i];
    } else word = (word ?? "") + ch;
  }
  if (word !== null) words.push(word);
  return words;
}

/** The `cst-batch ...` commands a text names (between backticks), as argv after `cst-batch`. */
export function commandsIn(text: string): string[][] {
  return [...text.matchAll(/`cst-batch ([^`]*)`/g)].map((m) => shellWords(m[1]!));
}
