import { describe, expect, test } from "vitest";
import { directRunOneFlags } from "../../../src/cli/run-one-main.js";

// yargs-parser accepts these; run-one's reader leaves them to commander as the hand-written one did.
describe("run-one's direct reader refuses what yargs-parser would let through", () => {
  const refused: string[][] = [
    ["--force", "--force"],
    ["--adopt-existing", "--plan", "p", "--adopt-existing"],
    ["--json", "--json", "--index", "0"],
    ["--plan", "p", "--index", "0", "--"],
    ["--plan", "p", "--", "--index", "0"],
    ["--plan", "-1", "--index", "0"],
    ["--json=false"],
    ["--no-force"],
    ["--plan", "a", "--plan", "b"],
  ];
  test.each(refused.map((a) => [JSON.stringify(a), a] as const))("%s: left to commander", (_name, args) => {
    expect(directRunOneFlags(args)).toBeNull();
  });

  test("-v or -q given twice is still read directly", () => {
    expect(directRunOneFlags(["-q", "--plan", "p", "--index", "0", "-q"])).toEqual({ flags: { plan: "p", index: "0" }, verbosity: "quiet" });
    expect(directRunOneFlags(["-v", "--verbose"])).toEqual({ flags: {}, verbosity: "verbose" });
  });
});
