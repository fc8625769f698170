import { describe, expect, it } from "vitest";
import { parseJsonLenient } from "../../../src/util/read-json.js";
import { extractMetricValues, METRIC_COLUMNS } from "../../../src/metrics/metrics-columns.js";
import { fullMetricsSpec, metricsJsonText } from "../../helpers/collect-fixtures.js";

describe("parseJsonLenient (Python json.dump tokens)", () => {
  it("reads bare NaN, Infinity and -Infinity as null", () => {
    expect(parseJsonLenient('{"a": NaN, "b": Infinity, "c": -Infinity, "d": [1, -Infinity, NaN], "e": -1.5e-7}')).toEqual({
      a: null,
      b: null,
      c: null,
      d: [1, null, null],
      e: -1.5e-7,
    });
  });

  it("leaves the tokens inside strings alone, also next to escaped quotes and backslashes", () => {
    const text = String.raw`{"s": "NaN", "t": "x \"NaN\" -Infinity", "u": "C:\\", "v": NaN, "w": "\\\"Infinity"}`;
    expect(parseJsonLenient(text)).toEqual({ s: "NaN", t: 'x "NaN" -Infinity', u: "C:\\", v: null, w: '\\"Infinity' });
  });

  it("still rejects text that is not JSON apart from the tokens", () => {
    expect(() => parseJsonLenient('{"a": NaN,')).toThrow();
    expect(() => parseJsonLenient("{'a': 1}")).toThrow();
  });

  it("a metrics document written the way csttool writes it yields one value per column", () => {
    const spec = fullMetricsSpec();
    spec.left!.scalars!.fa!.mean = "NaN";
    const values = extractMetricValues(parseJsonLenient(metricsJsonText(spec)));
    expect(values).toHaveLength(METRIC_COLUMNS.length);
    const byName = Object.fromEntries(METRIC_COLUMNS.map((c, i) => [c.name, values[i]]));
    expect(byName.left_fa_mean).toBeNull();
    expect(byName.right_fa_mean).toBe(0.498);
    expect(byName.fa_pontine_laterality_index).toBe(-0.02);
  });
});
