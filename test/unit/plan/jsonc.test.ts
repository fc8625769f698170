import { describe, expect, it } from "vitest";
import { parseJsonc } from "../../../src/plan/jsonc.js";

describe("parseJsonc (jsonc-parser underneath)", () => {
  it("names a duplicate key inside a nested object at that key's line and column", () => {
    expect(parseJsonc('{\n  "x": {"y": 1,\n        "y": 2}\n}')).toEqual({ ok: false, message: 'duplicate key "y"', line: 3, column: 9 });
  });

  it("keeps the same key in two different objects", () => {
    expect(parseJsonc('[{"id": 1}, {"id": 2}]')).toEqual({ ok: true, value: [{ id: 1 }, { id: 2 }] });
  });

  it("keeps a \"__proto__\" key as data, not as the object's prototype", () => {
    const r = parseJsonc('{"__proto__": {"polluted": true}}');
    expect(r.ok).toBe(true);
    const value = (r as { value: Record<string, unknown> }).value;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("reports what it found where a value or key was expected, and text after the document", () => {
    expect(parseJsonc("[1,,2]")).toEqual({ ok: false, message: 'expected a value, found character ","', line: 1, column: 4 });
    expect(parseJsonc('{"a": 1}\n}')).toMatchObject({ ok: false, line: 2, column: 1, message: expect.stringContaining("end of the document") });
    expect(parseJsonc("")).toMatchObject({ ok: false, line: 1, column: 1, message: expect.stringContaining("expected a value") });
  });

  it("accepts a byte-order mark, comments and trailing commas", () => {
    expect(parseJsonc('\ufeff// c\n{"a": [1, {"b": null},], /* d */ "c": true,}')).toEqual({ ok: true, value: { a: [1, { b: null }], c: true } });
  });
});
