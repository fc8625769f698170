import { describe, expect, it } from "vitest";
import { compileGlobs, globToRegExp, splitGlobList } from "../../../src/plan/glob.js";

describe("name globs (picomatch underneath)", () => {
  it("reads [!...] as a negated class, also after other characters", () => {
    expect(globToRegExp("ses-[!12]").test("ses-1")).toBe(false);
    expect(globToRegExp("*[!0-9]").test("run-a")).toBe(true);
    expect(globToRegExp("*[!0-9]").test("run-7")).toBe(false);
  });

  it("keeps a leading ! literal and lets * match a leading dot", () => {
    expect(globToRegExp("!x").test("!x")).toBe(true);
    expect(globToRegExp("!x").test("y")).toBe(false);
    expect(globToRegExp("*").test(".hidden")).toBe(true);
  });

  it("matches the whole name, not a part of it", () => {
    const match = compileGlobs(["sub-0[1-3]", "*_run-1_*"]);
    expect(["sub-02", "sub-04", "xsub-01", "sub-1_run-1_dwi.nii.gz", "sub-1_run-12_dwi.nii.gz"].filter(match)).toEqual(["sub-02", "sub-1_run-1_dwi.nii.gz"]);
  });
});

describe("splitGlobList", () => {
  it("splits on commas outside braces and classes, trims, drops empty parts", () => {
    expect(splitGlobList("sub-01,sub-02")).toEqual(["sub-01", "sub-02"]);
    expect(splitGlobList(" sub-01 , ,sub-9* ")).toEqual(["sub-01", "sub-9*"]);
    expect(splitGlobList("sub-0{1,2},03")).toEqual(["sub-0{1,2}", "03"]);
    expect(splitGlobList("sub-[,a]1,x")).toEqual(["sub-[,a]1", "x"]);
    expect(splitGlobList("a\\,b,c")).toEqual(["a\\,b", "c"]);
  });
});
