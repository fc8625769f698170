import { describe, expect, test } from "vitest";
import { jsonPiecesByElement } from "../../../src/util/json-pieces.js";

const whole = (v: Record<string, unknown>): string => JSON.stringify(v, null, 2) + "\n";
const pieces = (v: Record<string, unknown>, key: string): string => [...jsonPiecesByElement(v, key)].join("");

describe("jsonPiecesByElement", () => {
  test("gives exactly JSON.stringify(value, null, 2) plus a newline", () => {
    const summary = {
      schema_version: 1,
      counts: { total: 3, success: 1 },
      tasks: [
        { index: 0, subject: "sub-01", error: null, nested: { a: [1, 2, { b: "x" }], empty: [], none: {} } },
        { index: 1, subject: "sub-02", error: "line one\nline two \"quoted\" \u0000 and \\n", tags: ["a", "b"] },
        { index: 2, value: 1.5e-7, big: 12345678901234, unicode: "é 日本" },
      ],
      problems: ["p1", "p2"],
    };
    expect(pieces(summary, "tasks")).toBe(whole(summary));
  });

  test("an empty list, a list of scalars, and a list not in the middle", () => {
    expect(pieces({ a: 1, tasks: [], b: [] }, "tasks")).toBe(whole({ a: 1, tasks: [], b: [] }));
    expect(pieces({ tasks: [1, "two", null, true] }, "tasks")).toBe(whole({ tasks: [1, "two", null, true] }));
    expect(pieces({ first: 0, tasks: [[1, [2]], {}] }, "tasks")).toBe(whole({ first: 0, tasks: [[1, [2]], {}] }));
  });

  test("yields one piece per element (never the whole text at once)", () => {
    const tasks = Array.from({ length: 50 }, (_, i) => ({ index: i }));
    const list = [...jsonPiecesByElement({ tasks }, "tasks")];
    expect(list.length).toBe(52);
    expect(Math.max(...list.map((p) => p.length))).toBeLessThan(60);
  });

  test("refuses a key that is not an array", () => {
    expect(() => [...jsonPiecesByElement({ tasks: 3 }, "tasks")]).toThrow(/not an array/);
  });
});
