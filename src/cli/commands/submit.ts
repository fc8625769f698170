import type { Command } from "commander";
import type { SetExit } from "./index.js";

/** Placeholder until the `submit` command lands; registers nothing. */
export function registerSubmitCommand(program: Command, setExit: SetExit): void {
  void program;
  void setExit;
}
