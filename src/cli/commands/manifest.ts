import { promises as fsp } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { CstError, EXIT, errnoCode } from "../../errors.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { out } from "../output.js";
import type { SetExit } from "./set-exit.js";

/** `cst-batch manifest init [FILE]`: write a commented example manifest. */
export function registerManifestCommand(program: Command, setExit: SetExit): void {
  const manifest = program
    .command("manifest")
    .description("work with study manifests")
    .addHelpText(
      "after",
      `
Examples:
  $ cst-batch manifest init study.jsonc
  $ cst-batch plan --manifest study.jsonc --out results

Reference: docs/reference/manifest.md

${exitCodesHelp([EXIT.OK, EXIT.USAGE])}`,
    );
  manifest
    .command("init")
    .description("write a commented example manifest (JSONC) to FILE, or to stdout")
    .argument("[file]", "where to write it (default: stdout)")
    .option("--force", "overwrite FILE if it exists")
    .addHelpText(
      "after",
      `
Examples:
  $ cst-batch manifest init study.jsonc
  $ cst-batch manifest init > study.jsonc
  $ cst-batch plan --manifest study.jsonc --out results/

${exitCodesHelp([EXIT.OK, EXIT.USAGE])}`,
    )
    .action(async (file: string | undefined, opts: { force?: boolean }) => {
      const { EXAMPLE_MANIFEST } = await import("../../plan/example-manifest.js");
      if (file === undefined || file === "-") {
        out.data(EXAMPLE_MANIFEST);
        setExit(EXIT.OK);
        return;
      }
      const target = path.resolve(file);
      if (opts.force) {
        const { writeFileAtomic } = await import("../../util/atomic-write.js");
        await writeFileAtomic(target, EXAMPLE_MANIFEST).catch((e: unknown) => {
          throw new CstError("INVALID_INPUT", `cannot write ${target}: ${(e as Error).message}`, { cause: e, hint: "check the folder exists and is writable" });
        });
      } else {
        try {
          await fsp.writeFile(target, EXAMPLE_MANIFEST, { flag: "wx" });
        } catch (e) {
          if (errnoCode(e) === "EEXIST") {
            throw new CstError("USAGE", `${target} already exists`, { hint: "choose another name, or pass --force to overwrite it" });
          }
          throw new CstError("INVALID_INPUT", `cannot write ${target}: ${(e as Error).message}`, { cause: e, hint: "check the folder exists and is writable" });
        }
      }
      out.info(`wrote an example manifest to ${target}; edit it, then: cst-batch plan --manifest ${JSON.stringify(target)} --out DIR`);
      setExit(EXIT.OK);
    });
}
