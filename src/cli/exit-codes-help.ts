import { EXIT, EXIT_CODES, exitCodeMeaning, type ExitCode } from "../errors.js";

/** Columns the meanings are wrapped at (help texts stay readable in an 100-column terminal). */
const WIDTH = 100;
const INDENT = "  ";

/**
 * The "Exit codes:" block of a `--help`, built from the one table in src/errors.ts (EXIT_CODES):
 * the given codes (every one by default) with their meanings, 1 (internal error) always listed.
 */
export function exitCodesHelp(codes: readonly ExitCode[] = EXIT_CODES.map((e) => e.code)): string {
  const listed = EXIT_CODES.map((e) => e.code).filter((c) => c === EXIT.INTERNAL || codes.includes(c));
  const pad = Math.max(...listed.map((c) => String(c).length));
  const lines = ["Exit codes:"];
  for (const code of listed) {
    const head = `${INDENT}${String(code).padStart(pad)}  `;
    lines.push(...wrap(exitCodeMeaning(code), WIDTH - head.length).map((l, i) => (i === 0 ? head : " ".repeat(head.length)) + l));
  }
  return lines.join("\n");
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}
