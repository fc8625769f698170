import { Command, CommanderError } from "commander";
import { CST_BATCH_VERSION } from "../version.js";
import { EXIT } from "../errors.js";
import { out, reportError } from "./output.js";
import { registerCommands } from "./commands/index.js";

/** Run the CLI; resolves to the process exit code (bin/cst-batch.js sets it). */
export async function main(argv: string[]): Promise<number> {
  // `cst-batch status | head`: a closed pipe is the reader's choice, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(EXIT.OK);
      throw e;
    });
  }
  const program = new Command();
  let exitCode: number = EXIT.OK;
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
  registerCommands(program, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") {
        return EXIT.OK;
      }
      return EXIT.USAGE;
    }
    return reportError(e);
  }
  return exitCode;
}

export { out };
