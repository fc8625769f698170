import type { Command } from "commander";

export type SetExit = (code: number) => void;

/** Each command lives in its own file and registers itself here. */
export function registerCommands(program: Command, setExit: SetExit): void {
  void program;
  void setExit;
}
