import { promises as fsp } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { canaryVerdictPath } from "../../../src/layout.js";
import { makeStudy } from "../../helpers/run-plan.js";
import { runCli } from "../../helpers/run-procs.js";

/**
 * The canary of array tasks: each chunk is run as an array element would (`run-one --submission
 * F --chunk k`), one after another. When the first K subjects to finish all failed with a SYSTEM
 * problem (csttool's environment check here), later elements read the study-level verdict and
 * exit at once: their subjects are not run and leave no failure record.
 */

async function submission(out: string, planFile: string, chunks: number[][], canary: number | undefined): Promise<string> {
  const file = path.join(out, ".cst-batch", "submissions", "20261203T000000Z-test.json");
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const record = {
    schema_version: 1,
    kind: "cst-batch-submission",
    submission_id: "20261203T000000Z-test",
    created_at: new Date().toISOString(),
    scheduler: "slurm",
    plan_id: "p-test",
    plan_path: planFile,
    command_line: [],
    chunks,
    ...(canary !== undefined ? { canary } : {}),
    shards: [],
    collect: null,
    resources: {},
  };
  await fsp.writeFile(file, JSON.stringify(record));
  return file;
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false,
  );
}

describe("the canary of a submission's array tasks", () => {
  test("after K SYSTEM failures the later array elements exit 0 at once, their subjects not run and not failed", async () => {
    const subjects = ["sub-001", "sub-002", "sub-003", "sub-004", "sub-005"];
    const s = await makeStudy(subjects.map((subject) => ({ subject })));
    await s.setBehaviours(Object.fromEntries(subjects.map((k) => [k, "env-check-failed"])));
    const file = await submission(s.out, s.planFile, subjects.map((_, i) => [i]), 2);
    const codes: (number | null)[] = [];
    const outputs: string[] = [];
    for (let chunk = 0; chunk < subjects.length; chunk++) {
      const r = await runCli(["run-one", "--submission", file, "--chunk", String(chunk)], s.env);
      codes.push(r.code);
      outputs.push(r.stdout + r.stderr);
    }
    expect(codes).toEqual([6, 6, 0, 0, 0]);
    expect(await s.runCount()).toBe(2);
    expect(await exists(canaryVerdictPath(s.out, "20261203T000000Z-test"))).toBe(true);
    for (const [i, key] of subjects.entries()) {
      const failed = await exists(path.join(s.out, key, "_failed_attempts"));
      expect(failed, key).toBe(i < 2);
    }
    expect(outputs[2]).toContain("not run (canary)");
    expect(outputs[2]).toContain("csttool doctor");
    // status reads the study's current plan (what `plan` writes next to the immutable one)
    await fsp.copyFile(s.planFile, path.join(s.out, ".cst-batch", "plan.jsonl"));
    await fsp.copyFile(s.planFile.replace(/\.jsonl$/, ".idx"), path.join(s.out, ".cst-batch", "plan.idx"));
    const status = await runCli(["status", "--out", s.out, "--json"], s.env);
    const text = status.stdout;
    expect(text).toContain("sub-005");
  });

  test("a success among the first K keeps every element running; --canary 0 (recorded as 0) turns it off", async () => {
    const subjects = ["sub-001", "sub-002", "sub-003", "sub-004"];
    const s = await makeStudy(subjects.map((subject) => ({ subject })));
    await s.setBehaviours({ "sub-001": "succeed", "sub-002": "env-check-failed", "sub-003": "env-check-failed", "sub-004": "env-check-failed" });
    const file = await submission(s.out, s.planFile, subjects.map((_, i) => [i]), 2);
    for (let chunk = 0; chunk < subjects.length; chunk++) await runCli(["run-one", "--submission", file, "--chunk", String(chunk)], s.env);
    expect(await s.runCount()).toBe(4);
    // The first K finished hold the slots, in order; the subjects after them take none, and no verdict is written.
    const dir = path.dirname(canaryVerdictPath(s.out, "20261203T000000Z-test"));
    expect((await fsp.readdir(dir)).sort()).toEqual(["slot-1.json", "slot-2.json"]);
    const slots = await Promise.all([1, 2].map(async (n) => JSON.parse(await fsp.readFile(path.join(dir, `slot-${n}.json`), "utf8")) as { key: string; category: string | null }));
    expect(slots.map((o) => [o.key, o.category])).toEqual([
      ["sub-001", null],
      ["sub-002", "SYSTEM"],
    ]);

    const t = await makeStudy(subjects.map((subject) => ({ subject })));
    await t.setBehaviours(Object.fromEntries(subjects.map((k) => [k, "env-check-failed"])));
    const off = await submission(t.out, t.planFile, subjects.map((_, i) => [i]), 0);
    for (let chunk = 0; chunk < subjects.length; chunk++) await runCli(["run-one", "--submission", off, "--chunk", String(chunk)], t.env);
    expect(await t.runCount()).toBe(4);
  });
});
