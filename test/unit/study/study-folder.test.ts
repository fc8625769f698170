import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CstError, EXIT } from "../../../src/errors.js";
import { resolveStudyDir, studyDirOfPlan, studyDirOfPlanFile } from "../../../src/study/study-folder.js";
import { tempDir } from "../../helpers/cli.js";

/** A study folder with `.cst-batch/plans/<id>.json` and `.cst-batch/plan.json`. */
function study(dir: string, id = "p1"): string {
  mkdirSync(path.join(dir, ".cst-batch", "plans"), { recursive: true });
  writeFileSync(path.join(dir, ".cst-batch", "plans", `${id}.json`), "{}");
  writeFileSync(path.join(dir, ".cst-batch", "plan.json"), "{}");
  return dir;
}

describe("study folder resolution", () => {
  it("the study of a plan file is the folder holding its .cst-batch/; none for a plan elsewhere", () => {
    expect(studyDirOfPlanFile("/s/x/.cst-batch/plan.json")).toBe("/s/x");
    expect(studyDirOfPlanFile("/s/x/.cst-batch/plans/abc.json")).toBe("/s/x");
    expect(studyDirOfPlanFile("/s/x/plans/abc.json")).toBeNull();
    expect(studyDirOfPlanFile("/s/x/my-plan.json")).toBeNull();
  });

  it("same folder, or the same folder through a symlink: the folder given", () => {
    const root = tempDir("cst-study-unit-");
    const b = study(path.join(root, "B"));
    const link = path.join(root, "link");
    symlinkSync(b, link);
    expect(resolveStudyDir(b, { out_dir: b, plan_id: "p1" }, path.join(b, ".cst-batch", "plan.json"))).toBe(b);
    expect(resolveStudyDir(link, { out_dir: b, plan_id: "p1" }, path.join(link, ".cst-batch", "plan.json"))).toBe(link);
  });

  it("moved (recorded folder gone, or not holding this plan): the folder given", () => {
    const root = tempDir("cst-study-unit-");
    const c = study(path.join(root, "C"));
    expect(resolveStudyDir(c, { out_dir: path.join(root, "gone"), plan_id: "p1" }, path.join(c, ".cst-batch", "plan.json"))).toBe(c);
    const other = study(path.join(root, "other"), "p2");
    expect(resolveStudyDir(c, { out_dir: other, plan_id: "p1" }, path.join(c, ".cst-batch", "plan.json"))).toBe(c);
  });

  it("a plan of another study that still holds it is refused with both folders named (exit 2)", () => {
    const root = tempDir("cst-study-unit-");
    const a = study(path.join(root, "A"), "p0");
    const b = study(path.join(root, "B"));
    let e: unknown;
    try {
      resolveStudyDir(a, { out_dir: b, plan_id: "p1" }, path.join(a, ".cst-batch", "plan.json"));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(CstError);
    const err = e as CstError;
    expect(err.exitCode).toBe(EXIT.USAGE);
    expect(err.message).toContain(a);
    expect(err.message).toContain(b);
    expect(err.hint).toContain(`--out ${b}`);
  });

  it("a plan file outside any .cst-batch/ folder keeps its recorded study", () => {
    const root = tempDir("cst-study-unit-");
    const b = study(path.join(root, "B"));
    expect(studyDirOfPlan(path.join(root, "copy-of-plan.json"), { out_dir: b, plan_id: "p1" })).toBe(b);
    expect(studyDirOfPlan(path.join(b, ".cst-batch", "plans", "p1.json"), { out_dir: b, plan_id: "p1" })).toBe(b);
  });
});
