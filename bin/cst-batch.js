#!/usr/bin/env node
import module from "node:module";

// Node >= 22.1: keep V8's compiled code of our modules on disk, so later starts (one run-one per
// subject) skip parsing and compiling them. Best effort; absent on older Node.
if (typeof module.enableCompileCache === "function") {
  try {
    module.enableCompileCache();
  } catch {
    // no writable cache folder: run without it
  }
}

// `run-one` loads only its own command (see runOneMain); everything else goes through main().
const argv = process.argv;
const run =
  argv[2] === "run-one"
    ? import("../dist/cli/commands/run-one.js").then((m) => m.runOneMain(argv))
    : import("../dist/cli/main.js").then((m) => m.main(argv));

run.then((code) => {
  process.exitCode = code;
});
