import type { Command } from "commander";
import type { SetExit } from "./index.js";

/** Placeholder until the `resubmit` command lands; registers nothing. */
export function registerResubmitCommand(program: Command, setExit: SetExit): void {
  void program;
  void setExit;
}
