import { describe, expect, it } from "vitest";
import { containerArgv } from "../../../src/run/run-one.js";
import { resolveSubmitSettings } from "../../../src/submit/settings.js";
import { submitToScheduler } from "../../../src/submit/submit.js";
import { makeStudy } from "../../helpers/run-plan.js";

describe("--container", () => {
  it("run-one prefixes csttool's argv with `<runtime> exec --bind <dirs> <image>`", () => {
    expect(containerArgv(["csttool", "run", "--out", "/o/x"], { runtime: "apptainer", image: "/img/c.sif" }, ["/o", "/in/a", "/in/a"])).toEqual([
      "apptainer",
      "exec",
      "--bind",
      "/in/a,/o",
      "/img/c.sif",
      "csttool",
      "run",
      "--out",
      "/o/x",
    ]);
    expect(containerArgv(["csttool"], { runtime: "singularity", image: "docker://x/y" }, [])).toEqual(["singularity", "exec", "docker://x/y", "csttool"]);
  });

  it("a folder a --bind list cannot express (',' or ':' in its path) is an error naming it, never a bind left out", () => {
    for (const odd of ["/we,ird", "/in/a:b"]) {
      expect(() => containerArgv(["csttool"], { runtime: "apptainer", image: "/img/c.sif" }, ["/o", odd])).toThrow(odd);
    }
  });

  it("the array script hands the runtime and image to run-one", async () => {
    const study = await makeStudy([{ subject: "sub-01" }]);
    const settings = resolveSubmitSettings({ time: "1h", container: "/images/csttool 0.5.sif", containerRuntime: "singularity", maxArraySize: "10" }, {});
    const r = await submitToScheduler({ plan: study.plan, planPath: study.planFile, scheduler: "slurm", settings, explicitTimeoutMinutes: null, commandLine: [], dryRun: true });
    expect(r.kind).toBe("dry-run");
    if (r.kind !== "dry-run") return;
    expect(r.scripts[0]!.text).toMatch(/--timeout-minutes \S+ --container-runtime singularity --container-image '\/images\/csttool 0\.5\.sif'$/m);
    expect(r.submission.resources.container).toEqual({ image: "/images/csttool 0.5.sif", runtime: "singularity" });
  });
});
