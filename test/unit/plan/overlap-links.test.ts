import { promises as fsp } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlan } from "../../../src/plan/planner.js";
import { makeBidsDataset, makeTempDir } from "../../helpers/plan-bids-maker.js";
import { makeVersionOnlyCsttool } from "../../helpers/plan-fake-csttool.js";

let tmp: string;
let csttool: string;

beforeAll(async () => {
  tmp = await makeTempDir("cst-overlap-links-");
  csttool = await makeVersionOnlyCsttool(path.join(tmp, "bin"), { version: "0.5.0" });
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe("--out against input folders reached through a symbolic link", () => {
  it("a subject folder that is a link: --out inside its real input folder is refused, naming the real path", async () => {
    const bids = await makeBidsDataset(path.join(tmp, "bids"), [{ id: "sub-01" }, { id: "sub-02" }]);
    const elsewhere = path.join(tmp, "elsewhere");
    await fsp.mkdir(elsewhere);
    await fsp.rename(path.join(bids, "sub-02"), path.join(elsewhere, "sub-02"));
    await fsp.symlink(path.join(elsewhere, "sub-02"), path.join(bids, "sub-02"));
    const out = path.join(elsewhere, "sub-02", "dwi", "results");
    const o = await createPlan({ csttool, bidsDir: bids, out });
    expect(o.kind).toBe("problems");
    if (o.kind !== "problems") return;
    const messages = o.problems.map((p) => p.message);
    expect(messages.some((m) => m.includes(`lies inside the input folder ${path.join(bids, "sub-02", "dwi")} (real path ${path.join(elsewhere, "sub-02", "dwi")})`))).toBe(true);
    // The same study into a folder apart from every input is planned, both subjects in it.
    const fine = await createPlan({ csttool, bidsDir: bids, out: path.join(tmp, "out") });
    expect(fine.kind).toBe("planned");
    if (fine.kind === "planned") expect(fine.plan.task_count).toBe(2);
  });

  it("subject folders of another pattern (P01, reached through plain folders): --out inside one's dwi folder is refused, naming it; beside the root it is planned", async () => {
    const bids = await makeBidsDataset(path.join(tmp, "bids-p"), [{ id: "sub-01" }, { id: "sub-02" }]);
    for (const id of ["01", "02"]) await fsp.rename(path.join(bids, `sub-${id}`), path.join(bids, `P${id}`));
    const out = path.join(bids, "P02", "dwi", "results");
    const o = await createPlan({ csttool, bidsDir: bids, out, subjectPattern: "P*" });
    expect(o.kind).toBe("problems");
    if (o.kind !== "problems") return;
    expect(o.problems.some((p) => p.message.includes(`lies inside the input folder ${path.join(bids, "P02", "dwi")} (sub-P02's NIfTI`))).toBe(true);
    const fine = await createPlan({ csttool, bidsDir: bids, out: path.join(tmp, "out-p"), subjectPattern: "P*" });
    expect(fine.kind).toBe("planned");
    if (fine.kind === "planned") expect(fine.plan.task_count).toBe(2);
  });
});
