import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bashCompletion, commandTree, zshCompletion } from "../../../src/cli/completion.js";
import { registerCommands } from "../../../src/cli/commands/index.js";
import { addVerbosityOptions } from "../../../src/cli/output.js";

/** The real program tree, as main() builds it. */
async function program(): Promise<Command> {
  const p = new Command().name("cst-batch").version("0.0.0", "-V, --version");
  addVerbosityOptions(p);
  await registerCommands(p, () => {}, ["node", "cst-batch"]);
  return p;
}

const haveBash = spawnSync("bash", ["--version"]).status === 0;

describe("completion script generated from the command tree", () => {
  it("lists every registered command and its flags", async () => {
    const tree = commandTree(await program());
    const root = tree.find((n) => n.path === "")!;
    expect(root.subcommands).toEqual(expect.arrayContaining(["plan", "manifest", "submit", "run-one", "collect", "completion"]));
    expect(root.flags).toEqual(expect.arrayContaining(["--verbose", "--quiet", "--help"]));
    expect(tree.find((n) => n.path === "manifest")!.subcommands).toEqual(["init"]);
    expect(tree.find((n) => n.path === "collect")!.valued).toContain("--out");
  });

  describe.skipIf(!haveBash)("sourced in a real bash", () => {
    let dir: string;
    let script: string;
    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), "cst-completion-"));
      script = path.join(dir, "cst-batch.bash");
      writeFileSync(script, bashCompletion(await program()));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** Words offered for a command line whose last word is being completed. */
    function complete(line: string): string[] {
      const words = line.split(" ");
      const bashWords = words.map((w) => `'${w}'`).join(" ");
      const cmd = `source ${JSON.stringify(script)}; COMP_WORDS=(${bashWords}); COMP_CWORD=${words.length - 1}; _cst_batch; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const got = execFileSync("bash", ["--norc", "--noprofile", "-c", cmd], { cwd: dir, encoding: "utf8" });
      return got.split("\n").filter((l) => l !== "");
    }

    it("registers the completion for cst-batch (complete -p)", () => {
      const got = execFileSync("bash", ["--norc", "--noprofile", "-c", `source ${JSON.stringify(script)}; complete -p cst-batch`], { encoding: "utf8" });
      expect(got).toContain("-F _cst_batch cst-batch");
    });

    it("completes `cst-batch pl` to plan", () => {
      expect(complete("cst-batch pl")).toEqual(["plan"]);
    });

    it("completes subcommands, flags, option values and argument choices", () => {
      expect(complete("cst-batch manifest ")).toEqual(["init"]);
      expect(complete("cst-batch collect --o")).toEqual(["--out"]);
      expect(complete("cst-batch --quiet pl")).toEqual(["plan"]);
      expect(complete("cst-batch completion ")).toEqual(["bash", "zsh"]);
      // The value of --out is a path, not a command: `plan` after it still completes plan's flags.
      writeFileSync(path.join(dir, "plan"), "");
      expect(complete("cst-batch collect --out plan --j")).toEqual(["--json"]);
      expect(complete("cst-batch collect --out cst-batch.ba")).toEqual(["cst-batch.bash"]);
    });

    it("offers the allowed values of choice flags: --scheduler, --category, --container-runtime", () => {
      expect(complete("cst-batch submit --scheduler ")).toEqual(["auto", "slurm", "pbs", "torque", "sge", "lsf", "local"]);
      expect(complete("cst-batch resubmit --scheduler l")).toEqual(["lsf", "local"]);
      expect(complete("cst-batch status --category TI")).toEqual(["TIMEOUT"]);
      expect(complete("cst-batch resubmit --category OUT")).toEqual(["OUT_OF_MEMORY"]);
      expect(complete("cst-batch submit --container-runtime ")).toEqual(["apptainer", "singularity"]);
    });
  });

  it("the zsh script loads the same function through bashcompinit", async () => {
    const z = zshCompletion(await program());
    expect(z.startsWith("#compdef cst-batch\n")).toBe(true);
    expect(z).toContain("bashcompinit");
    expect(z).toContain("complete -o filenames -o bashdefault -F _cst_batch cst-batch");
  });
});
