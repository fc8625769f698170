/**
 * What a csttool offers, read from argparse's `csttool run --help`: the long options and, per
 * option, its `{a,b,c}` choices. Preflight checks the resolved options against it, so flag drift
 * between csttool versions (e.g. 0.5.0 has no `--denoise-method mppca`) is caught at plan time.
 */

export interface RunHelp {
  /** Long options offered (`--out`, `--denoise-method`, ...), sorted. */
  flags: string[];
  /** Allowed values per option that lists them (`{"--denoise-method": ["patch2self", "nlmeans"]}`). */
  choices: Record<string, string[]>;
}

/** An argparse option line: exactly two spaces, then the option strings (help text is indented deeper). */
const OPTION_LINE = /^ {2}(-\S.*)$/;
const OPTION_STRING = /^(--?[A-Za-z0-9][\w-]*)(?:[ =](.*))?$/;

/** `{a,b,c}` at the start of a metavar, as a list; null when there is none. */
function choicesOf(metavar: string | undefined): string[] | null {
  const m = /^\{([^}]*)\}/.exec(metavar?.trim() ?? "");
  if (!m) return null;
  const values = (m[1] ?? "").split(",").map((v) => v.trim()).filter((v) => v !== "");
  return values.length > 0 ? values : null;
}

/**
 * Parse `csttool run --help` as printed by Python's argparse; null when the text is not argparse
 * help (no `usage:` line, or no `-h, --help` option line): callers then skip the checks.
 */
export function parseRunHelp(text: string): RunHelp | null {
  const lines = text.replace(/\r/g, "").split("\n");
  if (!lines.some((l) => /^usage: /.test(l))) return null;
  const flags = new Set<string>();
  const choices: Record<string, string[]> = {};
  let sawHelp = false;
  for (const line of lines) {
    const m = OPTION_LINE.exec(line);
    if (!m) continue;
    // The option strings end where the help text starts (two or more spaces), or at the line end.
    const invocation = (m[1] ?? "").split(/ {2,}/)[0] ?? "";
    for (const part of invocation.split(", ")) {
      const o = OPTION_STRING.exec(part.trim());
      if (!o) continue;
      const flag = o[1] as string;
      if (flag === "--help") sawHelp = true;
      if (!flag.startsWith("--")) continue;
      flags.add(flag);
      const values = choicesOf(o[2]);
      if (values) choices[flag] = values;
    }
  }
  flags.delete("--help");
  if (!sawHelp || flags.size === 0) return null;
  return { flags: [...flags].sort(), choices };
}
