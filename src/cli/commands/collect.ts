import type { Command } from "commander";
import type { SetExit } from "./index.js";

/** Placeholder until the `collect` command lands; registers nothing. */
export function registerCollectCommand(program: Command, setExit: SetExit): void {
  void program;
  void setExit;
}
