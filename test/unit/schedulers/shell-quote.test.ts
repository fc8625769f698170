import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CstError } from "../../../src/errors.js";
import { assertBareDirectiveValue, assertDirectiveValue, shellQuote } from "../../../src/shell/shell-quote.js";

/** What bash makes of `printf '%s' <quoted>`: the value must come back unchanged. */
function roundTrip(value: string): string {
  return execFileSync("bash", ["-c", `printf '%s' ${shellQuote(value)}`], { encoding: "utf8" });
}

const HOSTILE = [
  "a'; echo x",
  "with space",
  "$(id)",
  "`id`",
  "line1\nline2",
  "ünïcødé ✓ 日本",
  "'",
  "''",
  "\\",
  "a\"b",
  "*",
  "~root",
  "-n",
  "#comment",
  "a;b|c&d>e<f",
  "$HOME ${HOME} $((1+1))",
  "\t tab",
  "!history",
];

describe("shellQuote", () => {
  it.each(HOSTILE)("bash reads %j back unchanged", (value) => {
    expect(roundTrip(value)).toBe(value);
  });

  it("leaves safe words bare and quotes the empty string", () => {
    expect(shellQuote("/data/study/out")).toBe("/data/study/out");
    expect(shellQuote("gpu:1")).toBe("gpu:1");
    expect(shellQuote("")).toBe("''");
    expect(roundTrip("")).toBe("");
  });

  it("writes a single quote as '\\''", () => {
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it("rejects NUL with a USAGE error", () => {
    expect(() => shellQuote("a\0b")).toThrow(CstError);
    expect(() => shellQuote("a\0b")).toThrow(/NUL/);
  });
});

describe("directive values", () => {
  it("a newline cannot reach a directive line: USAGE error naming the value", () => {
    try {
      assertDirectiveValue("name\n#SBATCH --wrap=evil", "job name");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CstError);
      expect((e as CstError).code).toBe("USAGE");
      expect((e as CstError).message).toMatch(/job name.*line break/);
      expect((e as CstError).details.join(" ")).toContain("#SBATCH --wrap=evil");
    }
    expect(() => assertDirectiveValue("a\rb", "x")).toThrow(/line break/);
  });

  it("a PBS directive value must need no quoting", () => {
    expect(() => assertBareDirectiveValue("/data/study/out/logs", "log folder")).not.toThrow();
    for (const bad of ["/my study", "a'b", "$(id)", "", "a\"b"]) {
      expect(() => assertBareDirectiveValue(bad, "log folder"), bad).toThrow(/#PBS directive line/);
    }
  });
});
