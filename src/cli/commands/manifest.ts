import type { Command } from "commander";
import type { SetExit } from "./index.js";

/** Placeholder until the `manifest` command lands; registers nothing. */
export function registerManifestCommand(program: Command, setExit: SetExit): void {
  void program;
  void setExit;
}
