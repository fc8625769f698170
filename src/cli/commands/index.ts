import type { Command } from "commander";
import { registerPlanCommand } from "./plan.js";
import { registerManifestCommand } from "./manifest.js";
import { registerRunOneCommand } from "./run-one.js";
import { registerCollectCommand } from "./collect.js";
import { registerSubmitCommand } from "./submit.js";
import { registerStatusCommand } from "./status.js";
import { registerResubmitCommand } from "./resubmit.js";
import { registerCompletionCommand } from "./completion.js";

export type SetExit = (code: number) => void;

/** Each command lives in its own file and registers itself here. */
export function registerCommands(program: Command, setExit: SetExit): void {
  registerPlanCommand(program, setExit);
  registerManifestCommand(program, setExit);
  registerSubmitCommand(program, setExit);
  registerRunOneCommand(program, setExit);
  registerCollectCommand(program, setExit);
  registerStatusCommand(program, setExit);
  registerResubmitCommand(program, setExit);
  registerCompletionCommand(program, setExit);
}
