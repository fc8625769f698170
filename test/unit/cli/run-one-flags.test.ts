import { Command } from "commander";
import { afterEach, describe, expect, test } from "vitest";
import { registerRunOneCommand } from "../../../src/cli/commands/run-one.js";
import { addVerbosityOptions, getVerbosity, setVerbosity } from "../../../src/cli/output.js";
import { directRunOneFlags } from "../../../src/cli/run-one-main.js";

/** What commander makes of run-one's arguments: the flags its action would get, and the verbosity. */
async function commanderFlags(args: string[]): Promise<{ flags: Record<string, unknown>; verbosity: string }> {
  const program = new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  addVerbosityOptions(program);
  registerRunOneCommand(program, () => {});
  let flags: Record<string, unknown> = {};
  program.commands[0]!.action((f: Record<string, unknown>) => {
    flags = { ...f };
  });
  await program.parseAsync(["node", "cst-batch", "run-one", ...args]);
  return { flags, verbosity: getVerbosity() };
}

afterEach(() => setVerbosity("normal"));

describe("run-one's arguments read without commander", () => {
  const plain: string[][] = [
    ["--plan", "p.json", "--index", "3"],
    ["--plan=p.json", "--index=3", "--force", "--json", "-v"],
    ["--submission", "s.json", "--chunk", "2", "--timeout-minutes", "30", "--grace-seconds", "0", "-q"],
    ["--container-image", "a b.sif", "--container-runtime", "singularity", "--plan", "x", "--index", "0", "--verbose"],
    ["--plan", "a'; echo x", "--index", "1", "--quiet"],
    ["--plan", "line\nbreak", "--index", "1"],
    ["--plan=", "--index", "1"],
    ["--plan=a=b", "--index", "01"],
    [],
  ];
  test.each(plain.map((a) => [JSON.stringify(a), a] as const))("%s: the same flags as commander's", async (_name, args) => {
    const direct = directRunOneFlags(args);
    expect(direct).not.toBeNull();
    const viaCommander = await commanderFlags(args);
    expect(direct!.flags).toEqual(viaCommander.flags);
    expect(direct!.verbosity).toBe(viaCommander.verbosity);
  });

  // Help, typos, odd forms and repeats go to commander, which prints help or the usage error.
  const forCommander: string[][] = [
    ["--help"],
    ["-h"],
    ["-V"],
    ["--plan"],
    ["--plan", "--index", "1"],
    ["--plan", "-x", "--index", "1"],
    ["--index", "1", "--index", "2"],
    ["--force=yes"],
    ["--bogus", "1"],
    ["--plan", "p", "--index", "1", "extra"],
    ["-v", "-q"],
    ["--verbose", "--quiet", "--plan", "p", "--index", "1"],
    ["-vq"],
  ];
  test.each(forCommander.map((a) => [JSON.stringify(a), a] as const))("%s: left to commander", (_name, args) => {
    expect(directRunOneFlags(args)).toBeNull();
  });
});
