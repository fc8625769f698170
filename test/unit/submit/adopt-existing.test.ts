import { describe, expect, it } from "vitest";
import { resolveSubmitSettings } from "../../../src/submit/settings.js";
import { submitToScheduler } from "../../../src/submit/submit.js";
import { makeStudy } from "../../helpers/run-plan.js";

describe("--adopt-existing on a scheduler", () => {
  it("the array script passes --adopt-existing to run-one only when asked", async () => {
    const study = await makeStudy([{ subject: "sub-01" }]);
    const settings = resolveSubmitSettings({ time: "1h", maxArraySize: "10" }, {});
    const base = { plan: study.plan, planPath: study.planFile, settings, explicitTimeoutMinutes: null, commandLine: [], dryRun: true };
    for (const scheduler of ["slurm", "pbs", "torque"] as const) {
      const plain = await submitToScheduler({ ...base, scheduler });
      const adopting = await submitToScheduler({ ...base, scheduler, adoptExisting: true });
      if (plain.kind !== "dry-run" || adopting.kind !== "dry-run") throw new Error("dry run expected");
      expect(plain.scripts[0]!.text).not.toContain("--adopt-existing");
      expect(adopting.scripts[0]!.text).toMatch(/ run-one --submission .* --adopt-existing$/m);
    }
  });
});
