import { Command, CommanderError } from "commander";
import { CST_BATCH_VERSION } from "../version.js";
import { EXIT } from "../errors.js";
import { exitCodesHelp } from "./exit-codes-help.js";
import { addVerbosityOptions, dropOutputOnClosedStream, errorJson, jsonRequested, out, reportError } from "./output.js";
import type { SetExit } from "./commands/set-exit.js";

const PROGRAM_EXAMPLES = `
Examples:
  $ cst-batch manifest init study.jsonc                      # a commented example manifest
  $ cst-batch plan --bids-dir /data/study --out results      # check everything, write the plan
  $ cst-batch submit --scheduler local --bids-dir /data/study --out results --jobs 4
  $ cst-batch submit --scheduler slurm --bids-dir /data/study --out results --time 3h --mem 8G
  $ cst-batch collect --out results                          # batch_report.html, batch_metrics.csv, ...
  $ cst-batch completion bash > ~/.local/share/bash-completion/completions/cst-batch

Each command has --help with examples. Human output goes to stderr (no colour when it is not a
terminal or NO_COLOR is set); --json puts machine-readable output on stdout. Every state change
is also logged as JSON lines in <out>/.cst-batch/events/<host>.jsonl (one file per machine).

${exitCodesHelp()}`;

/** Adds the commands this entry point offers to the program. */
export type RegisterCommands = (program: Command, setExit: SetExit, argv: readonly string[]) => Promise<void> | void;

/**
 * Run the CLI with the commands `register` adds; resolves to the process exit code. Shared by
 * the full CLI (main.ts) and run-one's own start-up entry (run-one-main.ts).
 */
export async function runProgram(argv: string[], register: RegisterCommands): Promise<number> {
  dropOutputOnClosedStream();
  const program = new Command();
  let exitCode: number = EXIT.OK;
  const json = jsonRequested(argv.slice(2));
  program
    .name("cst-batch")
    .description("Run csttool over a whole study: Slurm, PBS Pro, Torque array jobs or a local worker pool.")
    .version(CST_BATCH_VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  addVerbosityOptions(program);
  program.addHelpText("after", PROGRAM_EXAMPLES);
  await register(
    program,
    (code) => {
      exitCode = code;
    },
    argv,
  );
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") {
        return EXIT.OK;
      }
      // commander printed the message on stderr already; --json also gets it on stdout
      if (json) out.json(errorJson("USAGE", e.message.replace(/^error: /, ""), EXIT.USAGE, { details: [`commander: ${e.code}`], hint: "run with --help for usage" }));
      return EXIT.USAGE;
    }
    return reportError(e, json);
  }
  return exitCode;
}
