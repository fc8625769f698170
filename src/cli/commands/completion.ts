import { Argument, type Command } from "commander";
import { EXIT } from "../../errors.js";
import { completionScript, SHELLS, type Shell } from "../completion.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { out } from "../output.js";
import type { SetExit } from "./set-exit.js";

/** `cst-batch completion bash|zsh`: print a completion script built from the command tree. */
export function registerCompletionCommand(program: Command, setExit: SetExit): void {
  program
    .command("completion")
    .description("print a shell completion script (bash or zsh) for cst-batch")
    .addArgument(new Argument("<shell>", "bash or zsh").choices(SHELLS))
    .addHelpText(
      "after",
      `
Examples:
  $ source <(cst-batch completion bash)                     # this shell only
  $ cst-batch completion bash > ~/.local/share/bash-completion/completions/cst-batch
  $ cst-batch completion zsh > "\${fpath[1]}/_cst-batch"      # zsh, then restart it

${exitCodesHelp([EXIT.OK, EXIT.USAGE])}`,
    )
    .action((shell: Shell) => {
      out.data(completionScript(program, shell));
      setExit(EXIT.OK);
    });
}
