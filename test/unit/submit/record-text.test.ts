import { describe, expect, it } from "vitest";
import { chunksJson, SubmissionRecordText } from "../../../src/submit/record-text.js";
import type { Submission } from "../../../src/schemas/study-records.js";

describe("the submission record's text", () => {
  it("the chunk list rendered once is JSON.stringify's own text one level down, empty chunks and lists included", () => {
    const lists: number[][][] = [[], [[]], [[0]], [[0, 1, 2], [], [3]], Array.from({ length: 50 }, (_, k) => Array.from({ length: k % 4 }, (_, j) => k * 10 + j))];
    for (const chunks of lists) {
      const whole = JSON.stringify({ a: 1, chunks, b: [2] }, null, 2);
      expect(whole).toContain(`"chunks": ${chunksJson(chunks)},`);
    }
  });

  it("each rewrite is byte for byte JSON.stringify(record, null, 2) with a newline, as the record changes", () => {
    const record = {
      schema_version: 1,
      kind: "cst-batch-submission",
      submission_id: "20261203-000000-abcd",
      command_line: ["cst-batch", "submit", "--out", 'a "quoted" path'],
      chunks: [[0, 1], [2], [5, 7]],
      shards: [{ shard: 0, job_id: null as string | null }],
      collect: { job_id: null as string | null },
    } as unknown as Submission;
    const text = new SubmissionRecordText();
    expect(Buffer.concat(text.pieces(record).map((p) => (typeof p === "string" ? Buffer.from(p) : p))).toString("utf8")).toBe(JSON.stringify(record, null, 2) + "\n");
    (record.shards[0] as { job_id: string | null }).job_id = "1001";
    expect(Buffer.concat(text.pieces(record).map((p) => (typeof p === "string" ? Buffer.from(p) : p))).toString("utf8")).toBe(JSON.stringify(record, null, 2) + "\n");
    record.chunks = [[9]];
    expect(Buffer.concat(text.pieces(record).map((p) => (typeof p === "string" ? Buffer.from(p) : p))).toString("utf8")).toBe(JSON.stringify(record, null, 2) + "\n");
  });
});
