import { useOneShotParsing } from "../schemas/zod-setup.js";
import { registerRunOneCommand } from "./commands/run-one.js";
import { runProgram } from "./program.js";

/**
 * `cst-batch run-one` alone: the entry point bundled into dist/run-one.cjs, which
 * bin/cst-batch.js loads (with V8's code cache) when the command is run-one. One starts per
 * subject on every compute node, so it holds only what run-one needs, statically.
 */
export function main(argv: string[]): Promise<number> {
  useOneShotParsing();
  return runProgram(argv, (program, setExit) => registerRunOneCommand(program, setExit));
}
