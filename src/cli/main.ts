import { registerCommands } from "./commands/index.js";
import { runProgram } from "./program.js";

/** Run the CLI; resolves to the process exit code (bin/cst-batch.js sets it). */
export function main(argv: string[]): Promise<number> {
  return runProgram(argv, registerCommands);
}
