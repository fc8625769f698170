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

const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv);
