// Shared paths and the CLI command line for the figures.
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = path.join(REPO, "bin", "cst-batch.js");
export const STANDIN = path.join(REPO, "bench", "standin", "csttool");
export const NODE = process.execPath;

/** `node bin/cst-batch.js ...args` as an argv. */
export function cli(...args) {
  return [NODE, CLI, ...args];
}

/** Environment for the CLI: no colours, the stand-in first on PATH. */
export function cliEnv(extra = {}) {
  return { ...process.env, NO_COLOR: "1", PATH: `${path.dirname(STANDIN)}:${process.env.PATH}`, ...extra };
}
