import type { Command } from "commander";
import type { SetExit } from "./index.js";

/** Placeholder until the `status` command lands; registers nothing. */
export function registerStatusCommand(program: Command, setExit: SetExit): void {
  void program;
  void setExit;
}
