import { promises as fsp } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { ARGPARSE_NEXT_STEP, ATLAS_NEXT_STEP, ENVIRONMENT_NEXT_STEP } from "../../../src/run/csttool-outcome.js";
import { CLI, makeStudy, rewritePlan, STANDIN } from "../../helpers/run-plan.js";
import { runCli } from "../../helpers/run-procs.js";

/** How run-one records the ways the real csttool 0.5.0 fails (docs/csttool-findings.md D1, D2, D4). */

beforeAll(async () => {
  await fsp.access(path.join(path.dirname(CLI), "../dist/cli/main.js")).catch(() => {
    throw new Error("dist/ is missing: run `npm run build` first");
  });
});

async function onlyAttempt(dir: string): Promise<{ name: string; record: Record<string, unknown> }> {
  const names = await fsp.readdir(path.join(dir, "_failed_attempts"));
  expect(names).toHaveLength(1);
  const name = names[0]!;
  return { name, record: JSON.parse(await fsp.readFile(path.join(dir, "_failed_attempts", name, "attempt.json"), "utf8")) as Record<string, unknown> };
}

describe("csttool failures as csttool 0.5.0 reports them", () => {
  test("exit 0 with a failed step: PIPELINE_FAILED quoting the pipeline report; exit 0 with nothing: the environment check", async () => {
    const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }]);
    await s.setBehaviours({ "sub-001": "step-failed", "sub-002": "no-output" });
    const run = (i: number) => runCli(["run-one", "--plan", s.planFile, "--index", String(i)], s.env);

    expect((await run(0)).code).toBe(4);
    const a = await onlyAttempt(path.join(s.out, "sub-001"));
    expect(a.name).toMatch(/_PIPELINE_FAILED$/);
    expect(a.record.exit_code).toBe(0);
    expect(a.record.message).toContain("failed_steps extract (extract: CST extraction failed)");
    expect(a.record.message).toContain("001_pipeline_report.json");
    expect(a.record.next_step).toBe(ATLAS_NEXT_STEP);

    expect((await run(1)).code).toBe(4);
    const b = await onlyAttempt(path.join(s.out, "sub-002"));
    expect(b.name).toMatch(/_PIPELINE_FAILED$/);
    expect(b.record.message).toContain("csttool wrote nothing");
    expect(b.record.next_step).toBe(ENVIRONMENT_NEXT_STEP);
  });

  test("exit 2 from argparse (a value csttool rejects) is VALIDATION with csttool's error line", async () => {
    const s = await makeStudy([{ subject: "sub-001" }]);
    // A value the options table refuses cannot be planned: a wrapper hands it to the stand-in.
    const wrapper = path.join(s.root, "csttool-mppca");
    await fsp.writeFile(wrapper, `#!/bin/sh\nexec ${JSON.stringify(STANDIN)} "$@" --preprocess --denoise-method mppca\n`, { mode: 0o755 });
    await rewritePlan(s, (p) => {
      p.csttool.executable = wrapper;
    });
    expect((await runCli(["run-one", "--plan", s.planFile, "--index", "0"], s.env)).code).toBe(4);
    const a = await onlyAttempt(path.join(s.out, "sub-001"));
    expect(a.name).toMatch(/_VALIDATION$/);
    expect(a.record.exit_code).toBe(2);
    expect(a.record.message).toBe(
      "csttool rejected its arguments: csttool run: error: argument --denoise-method: invalid choice: 'mppca' (choose from 'patch2self', 'nlmeans')",
    );
    expect(a.record.next_step).toBe(ARGPARSE_NEXT_STEP);
  });
});
