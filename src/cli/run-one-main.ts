import { EXIT } from "../errors.js";
import { useOneShotParsing } from "../schemas/zod-setup.js";
import { RUN_ONE_OPTIONS, registerRunOneCommand, runOneAction, type RunOneFlags } from "./commands/run-one.js";
import { dropOutputOnClosedStream, reportError, setVerbosity, type Verbosity } from "./output.js";

/**
 * `cst-batch run-one` alone: the entry point bundled into dist/run-one.cjs, which
 * bin/cst-batch.js loads (with V8's code cache) when the command is run-one. One starts per
 * subject on every compute node, so it holds only what run-one needs. The flags an array task
 * passes are read directly; commander (~5 ms to load) is loaded only for help and usage errors.
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
    return reportError(e);
  }
  return exitCode;
}

const OPTIONS = new Map(
  RUN_ONE_OPTIONS.map((o) => {
    const name = /^--([a-z-]+)/.exec(o.flags)?.[1] ?? "";
    return [name, { key: name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), takesValue: o.flags.includes("<") }];
  }),
);

/**
 * run-one's arguments (after `run-one`) when they are plain: known long options, each at most
 * once, values as `--name value` or `--name=value`, and -v/-q. Anything else (help, a typo, a
 * value that starts with "-", a repeated option) gives null, and commander handles it as usual.
 */
export function directRunOneFlags(args: readonly string[]): { flags: RunOneFlags; verbosity: Verbosity } | null {
  const flags: Record<string, string | boolean> = {};
  let verbose = false;
  let quiet = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "-v" || arg === "--verbose") verbose = true;
    else if (arg === "-q" || arg === "--quiet") quiet = true;
    else {
      if (!arg.startsWith("--")) return null;
      const eq = arg.indexOf("=");
      const option = OPTIONS.get(arg.slice(2, eq < 0 ? undefined : eq));
      if (!option || Object.hasOwn(flags, option.key)) return null;
      if (!option.takesValue) {
        if (eq >= 0) return null;
        flags[option.key] = true;
        continue;
      }
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined || (eq < 0 && value.startsWith("-"))) return null;
      flags[option.key] = value;
    }
  }
  if (verbose && quiet) return null;
  return { flags: flags as RunOneFlags, verbosity: quiet ? "quiet" : verbose ? "verbose" : "normal" };
}
