import { readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, STANDIN, tempDir } from "../helpers/cli.js";
import { makeLargeBidsDataset } from "../helpers/plan-bids-maker.js";

/**
 * A few subjects of a larger study: resubmit reads only their plan lines (at the offsets of the
 * plan's `.idx`, src/resubmit/selected-tasks.ts), checks only their inputs, and reruns exactly
 * them; a dry run names a fixed subject as one that would be planned again and writes nothing.
 */
describe("resubmit of a few subjects of a larger study", () => {
  it("selects exactly the subjects asked for, re-checks only their inputs, and its dry run writes no plan", async () => {
    const dir = tempDir("cst-resubmit-few-");
    const bids = await makeLargeBidsDataset(path.join(dir, "bids"), 60);
    const out = path.join(dir, "out");
    const env = { XDG_CONFIG_HOME: path.join(dir, "xdg") };
    const plan = runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check"], { env });
    expect(plan.code, plan.stderr).toBe(0);
    // sub-00017's .bval fixed after the plan (new content and time); sub-00040's changed too, but it is not selected
    for (const id of ["sub-00017", "sub-00040"]) {
      const bval = path.join(bids, id, "dwi", `${id}_dwi.bval`);
      writeFileSync(bval, readFileSync(bval, "utf8").replace(/\n$/, " \n"));
      const later = new Date(Date.now() + 5_000);
      utimesSync(bval, later, later);
    }
    const plans = readdirSync(path.join(out, ".cst-batch", "plans")).sort();
    const r = runCli(["resubmit", "--out", out, "--scheduler", "local", "--dry-run", "--subjects", "00003,sub-00017,00052", "--no-profile", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kind).toBe("dry-run");
    expect(j.rerun).toEqual(["sub-00003", "sub-00017", "sub-00052"]);
    expect(j.groups.map((g: { tasks: number[] }) => g.tasks)).toEqual([[2, 16, 51]]);
    expect(j.replanned.map((p: { key: string }) => p.key)).toEqual(["sub-00017"]);
    expect(j.blocked).toEqual([]);
    expect(readdirSync(path.join(out, ".cst-batch", "plans")).sort()).toEqual(plans);
  }, 120_000);
});
