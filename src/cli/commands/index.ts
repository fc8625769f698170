import type { Command } from "commander";
import type { SetExit } from "./set-exit.js";

type Register = (program: Command, setExit: SetExit) => void;

/** Each command lives in its own file; its module is imported only when needed. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  plan: async () => (await import("./plan.js")).registerPlanCommand,
  manifest: async () => (await import("./manifest.js")).registerManifestCommand,
  submit: async () => (await import("./submit.js")).registerSubmitCommand,
  "run-one": async () => (await import("./run-one.js")).registerRunOneCommand,
  collect: async () => (await import("./collect.js")).registerCollectCommand,
  config: async () => (await import("./config.js")).registerConfigCommand,
  status: async () => (await import("./status.js")).registerStatusCommand,
  resubmit: async () => (await import("./resubmit.js")).registerResubmitCommand,
  cancel: async () => (await import("./cancel.js")).registerCancelCommand,
  completion: async () => (await import("./completion.js")).registerCompletionCommand,
};

/**
 * Register the command named in argv alone (run-one starts once per subject on compute nodes and
 * must not load the planner, the schedulers or the report), or every command for top-level help,
 * completion and unknown names.
 */
export async function registerCommands(program: Command, setExit: SetExit, argv: readonly string[]): Promise<void> {
  const named = argv[2];
  const only = named !== undefined && named !== "completion" && Object.hasOwn(COMMANDS, named) ? named : null;
  const names = only ? [only] : Object.keys(COMMANDS);
  const registers = await Promise.all(names.map((n) => COMMANDS[n]!()));
  for (const register of registers) register(program, setExit);
}
