import yargsParser from "yargs-parser";
import { EXIT } from "../errors.js";
import { useOneShotParsing } from "../schemas/zod-setup.js";
import { RUN_ONE_OPTIONS, registerRunOneCommand, runOneAction, type RunOneFlags } from "./commands/run-one.js";
import { dropOutputOnClosedStream, reportError, setVerbosity, type Verbosity } from "./output.js";

/**
 * `cst-batch run-one` alone: the entry point bundled into dist/run-one.cjs, which
 * bin/cst-batch.js loads (with V8's code cache) when the command is run-one. One starts per
 * subject on every compute node, so it holds only what run-one needs. The flags an array task
 * passes are read with yargs-parser from commander's own option table; commander (~5 ms to
 * load) is loaded only for help and usage errors.
 */
export async function main(argv: string[]): Promise<number> {
  useOneShotParsing();
  const direct = directRunOneFlags(argv.slice(3));
  if (!direct) {
    const { runProgram } = await import("./program.js");
    return runProgram(argv, (program, setExit) => registerRunOneCommand(program, setExit));
  }
  dropOutputOnClosedStream(direct.flags.json ? [process.stdout, process.stderr] : [process.stderr]);
  setVerbosity(direct.verbosity);
  let exitCode: number = EXIT.OK;
  try {
    await runOneAction(direct.flags, (code) => {
      exitCode = code;
    });
  } catch (e) {
    return reportError(e, direct.flags.json === true);
  }
  return exitCode;
}

/** run-one's options for yargs-parser, from the same table as commander's (`RUN_ONE_OPTIONS`). */
const PARSER_OPTIONS = (() => {
  const string: string[] = [];
  // Switches are counted: yargs-parser keeps a repeated boolean as one `true`.
  const count: string[] = ["verbose", "quiet"];
  const narg: Record<string, number> = {};
  for (const o of RUN_ONE_OPTIONS) {
    const name = /^--([a-z-]+)/.exec(o.flags)?.[1] ?? "";
    if (o.flags.includes("<")) {
      string.push(name);
      narg[name] = 1;
    } else count.push(name);
  }
  return {
    string,
    count,
    narg,
    alias: { verbose: ["v"], quiet: ["q"] },
    configuration: {
      "camel-case-expansion": false,
      "short-option-groups": false,
      "duplicate-arguments-array": true,
      "unknown-options-as-args": true,
      "boolean-negation": false,
      "dot-notation": false,
      "parse-numbers": false,
      "parse-positional-numbers": false,
      "strip-aliased": true,
    },
  } satisfies yargsParser.Options;
})();
/** -v/-q may be given more than once, as commander allows. */
const VERBOSITY = new Set(["verbose", "quiet"]);
const KNOWN = new Set([...PARSER_OPTIONS.string, ...PARSER_OPTIONS.count]);

/**
 * run-one's arguments (after `run-one`) when they are plain: known long options, each at most
 * once, values as `--name value` or `--name=value`, and -v/-q. Anything else (help, a typo, a
 * value that starts with "-", a repeated option, `--`) gives null, and commander handles it as
 * usual. yargs-parser reads them; the checks around it refuse what it would accept.
 */
export function directRunOneFlags(args: readonly string[]): { flags: RunOneFlags; verbosity: Verbosity } | null {
  if (args.includes("--")) return null;
  const parsed = yargsParser.detailed([...args], PARSER_OPTIONS);
  if (parsed.error) return null;
  const { _: positional, ...values } = parsed.argv;
  if (positional.length > 0) return null;
  const flags: Record<string, string | boolean> = {};
  for (const [key, value] of Object.entries(values)) {
    // Unknown, repeated (an array, or a switch counted twice), or a switch given a value.
    if (!KNOWN.has(key) || Array.isArray(value) || (typeof value === "number" && value > 1 && !VERBOSITY.has(key)) || typeof value === "boolean") return null;
    if (value === 0) continue;
    if (VERBOSITY.has(key)) {
      flags[key] = true;
      continue;
    }
    flags[key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = value === 1 ? true : (value as string);
  }
  // yargs-parser takes "-x" after `--plan` as its value; commander's usage error says more.
  if (args.some((a, i) => PARSER_OPTIONS.string.includes(a.slice(2)) && a.startsWith("--") && (args[i + 1] ?? "-").startsWith("-"))) return null;
  // A switch given a value (`--force=yes`) is commander's to refuse.
  if (args.some((a) => /^--[a-z-]+=/.test(a) && PARSER_OPTIONS.count.includes(a.slice(2, a.indexOf("="))))) return null;
  const { verbose, quiet, ...runOneFlags } = flags;
  if (verbose && quiet) return null;
  return { flags: runOneFlags as RunOneFlags, verbosity: quiet ? "quiet" : verbose ? "verbose" : "normal" };
}
