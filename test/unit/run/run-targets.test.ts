import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { CstError } from "../../../src/errors.js";
import { currentPlanPath, submissionChunksPath } from "../../../src/layout.js";
import { encodeSubmissionChunks } from "../../../src/state/submission-chunks.js";
import { resolveRunTargets } from "../../../src/run/run-targets.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "cst-targets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function submissionFile(chunks: number[][], planPath = "plans/p.json"): string {
  const file = path.join(dir, `sub-${Math.random().toString(16).slice(2)}.json`);
  const record = {
    schema_version: 1,
    kind: "cst-batch-submission",
    submission_id: "s1",
    created_at: new Date(0).toISOString(),
    scheduler: "slurm",
    plan_id: "p",
    plan_path: planPath,
    command_line: [],
    chunks,
    shards: [],
    collect: null,
    resources: {},
  };
  writeFileSync(file, JSON.stringify(record));
  return file;
}

async function usageError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(CstError);
  expect((e as CstError).code).toBe("USAGE");
  return (e as CstError).message;
}

describe("resolveRunTargets: what run-one runs", () => {
  test("a plan file and an index (number or text) give one target", async () => {
    expect(await resolveRunTargets({ plan: "p.json", index: 3 })).toEqual([{ planFile: "p.json", index: 3 }]);
    expect(await resolveRunTargets({ plan: "p.json", index: "01" })).toEqual([{ planFile: "p.json", index: 1 }]);
  });

  test("a study folder means its current plan; CST_BATCH_PLAN stands in for a missing plan", async () => {
    const study = path.join(dir, "study");
    mkdirSync(study, { recursive: true });
    expect(await resolveRunTargets({ plan: study, index: 0 })).toEqual([{ planFile: currentPlanPath(study), index: 0 }]);
    expect(await resolveRunTargets({ index: 2, env: { CST_BATCH_PLAN: "env.json" } })).toEqual([{ planFile: "env.json", index: 2 }]);
  });

  test("a submission chunk gives its indices in order, with the record's plan unless one is given", async () => {
    const file = submissionFile([[0, 1], [4, 2]]);
    expect(await resolveRunTargets({ submission: file, chunk: "1", env: {} })).toEqual([
      { planFile: path.resolve("plans/p.json"), index: 4 },
      { planFile: path.resolve("plans/p.json"), index: 2 },
    ]);
    expect(await resolveRunTargets({ submission: file, chunk: 0, plan: "other.json", env: { CST_BATCH_PLAN: "ignored.json" } })).toEqual([
      { planFile: "other.json", index: 0 },
      { planFile: "other.json", index: 1 },
    ]);
  });

  test("incomplete, conflicting or malformed requests are usage errors", async () => {
    const file = submissionFile([[0]]);
    expect(await usageError(resolveRunTargets({ submission: file }))).toMatch(/go together/);
    expect(await usageError(resolveRunTargets({ chunk: 0 }))).toMatch(/go together/);
    expect(await usageError(resolveRunTargets({ submission: file, chunk: 0, index: 1 }))).toMatch(/cannot be combined/);
    expect(await usageError(resolveRunTargets({ submission: file, chunk: 1 }))).toMatch(/out of range/);
    expect(await usageError(resolveRunTargets({ submission: file, chunk: "x" }))).toMatch(/--chunk must be a whole number/);
    expect(await usageError(resolveRunTargets({ plan: "p.json", index: -1 }))).toMatch(/--index must be a whole number/);
    expect(await usageError(resolveRunTargets({ plan: "p.json", index: "1.5" }))).toMatch(/--index must be a whole number/);
    expect(await usageError(resolveRunTargets({ index: 0, env: {} }))).toMatch(/needs --plan/);
    expect(await usageError(resolveRunTargets({ plan: "p.json", env: {} }))).toMatch(/needs --index/);
  });

  test("a chunk is read from the submission's chunk index, without parsing the record", async () => {
    const file = path.join(dir, "20261203T000000Z-abcd.json");
    // A record too damaged to parse: only the chunk index can answer.
    writeFileSync(file, "{ not json");
    mkdirSync(path.dirname(submissionChunksPath(file)), { recursive: true });
    const chunks = [[0, 1, 2], [], [7, 5], [9]];
    writeFileSync(submissionChunksPath(file), encodeSubmissionChunks("20261203T000000Z-abcd", "plans/q.jsonl", chunks));
    expect(await resolveRunTargets({ submission: file, chunk: 2 })).toEqual([
      { planFile: path.resolve("plans/q.jsonl"), index: 7 },
      { planFile: path.resolve("plans/q.jsonl"), index: 5 },
    ]);
    expect(await resolveRunTargets({ submission: file, chunk: 1 })).toEqual([]);
    expect(await resolveRunTargets({ submission: file, chunk: 3, plan: "other.jsonl" })).toEqual([{ planFile: "other.jsonl", index: 9 }]);
    expect(await usageError(resolveRunTargets({ submission: file, chunk: 4 }))).toMatch(/--chunk 4 is out of range: submission 20261203T000000Z-abcd has 4 chunk\(s\)/);
  });

  test("a chunk index of another submission, or one cut short, is not trusted: the record is read", async () => {
    const file = submissionFile([[3], [8, 6]]);
    mkdirSync(path.dirname(submissionChunksPath(file)), { recursive: true });
    writeFileSync(submissionChunksPath(file), encodeSubmissionChunks("another-id", "plans/x.jsonl", [[100], [200]]));
    expect(await resolveRunTargets({ submission: file, chunk: 1 })).toEqual([
      { planFile: path.resolve("plans/p.json"), index: 8 },
      { planFile: path.resolve("plans/p.json"), index: 6 },
    ]);
    const id = path.basename(file, ".json");
    const whole = encodeSubmissionChunks(id, "plans/x.jsonl", [[100], [200, 300]]);
    writeFileSync(submissionChunksPath(file), whole.subarray(0, whole.length - 2));
    expect((await resolveRunTargets({ submission: file, chunk: 1 })).map((t) => t.index)).toEqual([8, 6]);
  });
});
