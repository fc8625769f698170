import type { Command } from "commander";
import type { SetExit } from "./index.js";

/** Placeholder until the `run-one` command lands; registers nothing. */
export function registerRunOneCommand(program: Command, setExit: SetExit): void {
  void program;
  void setExit;
}
