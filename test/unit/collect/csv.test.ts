import { describe, expect, it } from "vitest";
import { csvField, csvLines, csvRow, numberCell } from "../../../src/collect/csv.js";
import { parseCsv } from "../../helpers/collect-fixtures.js";

describe("CSV writing (RFC 4180)", () => {
  it("quotes fields holding a comma, a quote, CR or LF and doubles quotes", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField("")).toBe("");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("line1\nline2")).toBe('"line1\nline2"');
    expect(csvField("cr\rhere")).toBe('"cr\rhere"');
  });

  it("round-trips hostile values through a CSV reader", () => {
    const fields = ['a\r\nb', '"', ",", "x'; echo foo", "ü ß"];
    const doc = [...csvLines([csvRow(["h1", "h2", "h3", "h4", "h5"]), csvRow(fields)])].join("");
    expect(parseCsv(doc)).toEqual([["h1", "h2", "h3", "h4", "h5"], fields]);
  });

  it("number cells keep full precision and are empty for anything but a finite number", () => {
    expect(numberCell(0.1 + 0.2)).toBe("0.30000000000000004");
    expect(numberCell(0.000712)).toBe("0.000712");
    expect(numberCell(7.1e-7)).toBe("7.1e-7");
    expect(numberCell(1500)).toBe("1500");
    expect(numberCell(Number.NaN)).toBe("");
    expect(numberCell(Number.POSITIVE_INFINITY)).toBe("");
    expect(numberCell(null)).toBe("");
    expect(numberCell(undefined)).toBe("");
    expect(numberCell("0.5")).toBe("");
  });
});
