import type { Command } from "commander";
import type { SetExit } from "./index.js";

/** Placeholder until the `plan` command lands; registers nothing. */
export function registerPlanCommand(program: Command, setExit: SetExit): void {
  void program;
  void setExit;
}
