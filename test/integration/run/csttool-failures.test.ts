import { promises as fsp } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { ARGPARSE_NEXT_STEP } from "../../../src/run/csttool-outcome.js";
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
  test("exit 0 with the atlas missing: SYSTEM with csttool's atlas line; exit 0 with nothing written: SYSTEM, the environment check", async () => {
    const s = await makeStudy([{ subject: "sub-001" }, { subject: "sub-002" }]);
    await s.setBehaviours({ "sub-001": "step-failed", "sub-002": "no-output" });
    const run = (i: number) => runCli(["run-one", "--plan", s.planFile, "--index", String(i)], s.env);

    expect((await run(0)).code).toBe(6);
    const a = await onlyAttempt(path.join(s.out, "sub-001"));
    expect(a.name).toMatch(/_SYSTEM$/);
    expect(a.record.exit_code).toBe(0);
    expect(a.record.message).toContain("✗ Warping atlases failed: Harvard-Oxford cortical atlas (1mm) not found.");
    expect(a.record.message).toContain("failed_steps extract (extract: CST extraction failed)");
    expect(a.record.message).toContain("001_pipeline_report.json");
    expect(a.record.next_step).toContain("csttool fetch-data --accept-fsl-license");

    expect((await run(1)).code).toBe(6);
    const b = await onlyAttempt(path.join(s.out, "sub-002"));
    expect(b.name).toMatch(/_SYSTEM$/);
    expect(b.record.message).toContain("csttool wrote nothing");
    expect(b.record.next_step).toContain("csttool doctor");
  });

  test("each real csttool failure ends in its category with csttool's own line, shown by status", async () => {
    const cases = [
      { subject: "sub-001", behaviour: "env-check-failed", category: "SYSTEM", code: 6, line: "✗ User data dir: not writable ([Errno 13] Permission denied: '/home/u/.local/share/csttool')", step: "csttool doctor" },
      { subject: "sub-002", behaviour: "atlas-checksum", category: "SYSTEM", code: 6, line: "✗ Warping atlases failed: Checksum verification failed for HarvardOxford-cort-maxprob-thr25-1mm.nii.gz.", step: "csttool fetch-data --accept-fsl-license" },
      { subject: "sub-003", behaviour: "memory-error", category: "OUT_OF_MEMORY", code: 5, line: "✗ Tensor fitting failed: Unable to allocate 3.52 GiB", step: "--jobs" },
      { subject: "sub-004", behaviour: "memory-error-traceback", category: "OUT_OF_MEMORY", code: 5, line: "MemoryError", step: "--jobs" },
      { subject: "sub-005", behaviour: "corrupt-input", category: "INPUT_MISSING", code: 4, line: "✗ Error loading NIfTI: Compressed file ended before the end-of-stream marker was reached", step: "restore the input" },
      { subject: "sub-006", behaviour: "left-hemisphere-empty", category: "PIPELINE_FAILED", code: 4, line: "Left CST:       0 streamlines; ✗ Metrics failed: No CST tractograms available", step: "left hemisphere" },
    ];
    const s = await makeStudy(cases.map((c) => ({ subject: c.subject })));
    await s.setBehaviours(Object.fromEntries(cases.map((c) => [c.subject, c.behaviour])));
    for (const [i, c] of cases.entries()) {
      const r = await runCli(["run-one", "--plan", s.planFile, "--index", String(i)], s.env);
      expect(r.code, `${c.behaviour}: ${r.stdout}${r.stderr}`).toBe(c.code);
      const a = await onlyAttempt(path.join(s.out, c.subject));
      expect(a.name, c.behaviour).toMatch(new RegExp(`_${c.category}$`));
      expect(a.record.message, c.behaviour).toContain(c.line);
      expect(a.record.next_step, c.behaviour).toContain(c.step);
    }
    const hemisphere = await onlyAttempt(path.join(s.out, "sub-006"));
    expect(hemisphere.record.message).toContain("dropped the metrics of both sides");
    // status reads the study's current plan (what `plan` writes next to the immutable one)
    await fsp.copyFile(s.planFile, path.join(s.out, ".cst-batch", "plan.jsonl"));
    await fsp.copyFile(s.planFile.replace(/\.jsonl$/, ".idx"), path.join(s.out, ".cst-batch", "plan.idx"));
    const status = await runCli(["status", "--out", s.out, "--json"], s.env);
    for (const c of cases) expect(status.stdout, c.behaviour).toContain(JSON.stringify(c.line).slice(1, -1));
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
