import { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { registerCollectCommand } from "../../../src/cli/commands/collect.js";
import { reportError } from "../../../src/cli/output.js";
import { EXIT } from "../../../src/errors.js";
import { SummarySchema } from "../../../src/schemas/study-records.js";
import { makeTempOut, writeDone, writeFailedAttempt, writeLogs, writePlan } from "../../helpers/collect-fixtures.js";

let out: string;
let cleanup: () => void;
let stdout: string;
let stderr: string;

beforeEach(() => {
  ({ out, cleanup } = makeTempOut("cst-collect-cli-"));
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
  cleanup();
});

/** The collect command the way main() runs it: exit code set by the command, CstError -> its exit code. */
async function run(args: string[]): Promise<number> {
  const program = new Command().exitOverride();
  let code: number = EXIT.OK;
  registerCollectCommand(program, (c) => (code = c));
  try {
    await program.parseAsync(["node", "cst-batch", "collect", ...args]);
  } catch (e) {
    return reportError(e);
  }
  return code;
}

function study(): void {
  const plan = writePlan(out, [{ subject: "sub-001" }, { subject: "sub-002" }]);
  writeDone(out, plan.tasks[0]!);
  writeFailedAttempt(out, plan.tasks[1]!, { category: "OUT_OF_MEMORY" });
  writeLogs(out, plan.tasks[1]!, true);
}

describe("cst-batch collect", () => {
  it("exits 0 when reports were written, even with failed subjects, and names them with their error log", async () => {
    study();
    expect(await run(["--out", out])).toBe(EXIT.OK);
    expect(stdout).toBe("");
    expect(stderr).toContain("2 task(s): 1 succeeded, 1 failed");
    expect(stderr).toMatch(/sub-002\s+OUT_OF_MEMORY\s+logs\/sub-002_error\.log/);
    expect(existsSync(path.join(out, "batch_metrics.csv"))).toBe(true);
  });

  it("--exit-code: 4 (a subject failed) when a subject failed, 0 when none did; each category found gets its next step for this study", async () => {
    study();
    expect(await run(["--out", out, "--exit-code"])).toBe(EXIT.SUBJECT_FAILED);
    // No scheduler submission is recorded: a local study, so the rerun is a local resubmit (fewer workers, no memory factor).
    expect(stderr).toMatch(/next step for OUT_OF_MEMORY \(1\): .*`cst-batch resubmit --out \S+ --category OUT_OF_MEMORY --jobs 1`/);
    expect(stderr).not.toMatch(/--mem-factor/);
  });

  it("--exit-code exits 0 when every subject succeeded", async () => {
    const plan = writePlan(out, [{ subject: "sub-001" }]);
    writeDone(out, plan.tasks[0]!);
    expect(await run(["--out", out, "--exit-code"])).toBe(EXIT.OK);
    expect(stderr).not.toMatch(/next step/);
  });

  it("--json prints the summary on stdout", async () => {
    study();
    expect(await run(["--out", out, "--json"])).toBe(EXIT.OK);
    const summary = SummarySchema.parse(JSON.parse(stdout));
    expect(summary.counts).toMatchObject({ total: 2, success: 1, failed: 1 });
    expect(summary.by_category).toEqual({ OUT_OF_MEMORY: 1 });
    // The summary as written (copied from the file, never held whole), every task in it.
    expect(summary.tasks.map((t) => t.subject)).toEqual(["sub-001", "sub-002"]);
    expect(stdout).toBe(readFileSync(path.join(out, "batch_summary.json"), "utf8"));
  });

  it("without a plan in --out it is a usage error saying to run `cst-batch plan` first", async () => {
    expect(await run(["--out", out])).toBe(EXIT.USAGE);
    expect(stderr).toContain("no plan in");
    expect(stderr).toContain("cst-batch plan");
    expect(existsSync(path.join(out, "batch_summary.json"))).toBe(false);
  });
});
