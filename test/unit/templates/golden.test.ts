import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { pbsProBackend } from "../../../src/schedulers/pbs-pro.js";
import { slurmBackend } from "../../../src/schedulers/slurm.js";
import { torqueBackend } from "../../../src/schedulers/torque.js";
import { sgeBackend } from "../../../src/schedulers/sge.js";
import { lsfBackend } from "../../../src/schedulers/lsf.js";
import type { ArrayScriptContext, SchedulerBackend } from "../../../src/schedulers/types.js";
import { collectContext, fullArrayContext, hostileArrayContext, plainArrayContext } from "./contexts.js";

const GOLDEN_DIR = fileURLToPath(new URL("../../fixtures/schedulers/golden/", import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === "1";

/** Compare with the recorded file; `UPDATE_GOLDEN=1` (npm run golden:update) rewrites it. */
function expectGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(file, "utf8");
  } catch {
    throw new Error(`golden file ${file} is missing: run 'npm run golden:update' and review the diff`);
  }
  expect(actual, `rendered script differs from ${file} (npm run golden:update to accept)`).toBe(expected);
}

const cases: Array<[string, ArrayScriptContext]> = [
  ["plain", plainArrayContext()],
  ["full", fullArrayContext()],
  ["single", plainArrayContext({ arraySize: 1 })],
  // the third of three shards under a study-wide --array-throttle 2 (src/submit/throttle-lanes.ts)
  ["lane", plainArrayContext({ throttle: 1, chunkOffset: 8, arraySize: 2, throttleNote: "--array-throttle 2 holds for the whole study: this array runs at most 1 at once (lane 1 of 2); starts after array-0 ends" })],
];

const backends: Array<[string, SchedulerBackend, Partial<ArrayScriptContext>]> = [
  ["slurm", slurmBackend, {}],
  ["pbs", pbsProBackend, {}],
  ["torque", torqueBackend, {}],
  ["sge", sgeBackend, {}],
  ["lsf", lsfBackend, {}],
];

describe.each(backends)("%s scripts match their golden files", (dialect, backend) => {
  it.each(cases)("array script, %s context", (name, given) => {
    // Grid Engine needs a parallel environment for the contexts' --cpus 2 (profile "sge_pe")
    const ctx = dialect === "sge" ? { ...given, resources: { ...given.resources, parallelEnvironment: "smp" } } : given;
    const full =
      name === "full" && dialect === "slurm"
        ? { ...ctx, resources: { ...ctx.resources, qos: "normal", gres: "gpu:1" }, schedulerArgs: ["--constraint=avx2"] }
        : name === "full" && dialect === "sge"
          ? { ...ctx, resources: { ...ctx.resources, memoryResource: "h_vmem", parallelEnvironment: "smp" }, schedulerArgs: ["-l arch=lx-amd64"] }
        : name === "full" && dialect === "pbs"
          ? { ...ctx, resources: { ...ctx.resources, gres: "gpu:1" }, schedulerArgs: ["-l place=scatter"] }
          : name === "full" && dialect === "lsf"
            ? { ...ctx, resources: { ...ctx.resources, gres: "gpu:1" }, schedulerArgs: ['-R "select[avx2]"'], lsfUnitForLimits: "GB" as const }
          : name === "full"
            ? { ...ctx, schedulerArgs: ["-l feature=avx2"] }
            : ctx;
    expectGolden(`${dialect}-array-${name}.sh`, backend.renderArrayScript(full));
  });

  it("collect script", () => {
    const full = fullArrayContext();
    const ctx = dialect === "sge" ? { ...full, resources: { ...full.resources, parallelEnvironment: "smp" } } : full;
    expectGolden(`${dialect}-collect-full.sh`, backend.renderCollectScript(collectContext(ctx)));
  });

  it("hostile paths on shell lines are quoted, never interpreted", () => {
    const hostile = hostileArrayContext();
    const ctx = dialect === "sge" ? { ...hostile, resources: { ...hostile.resources, parallelEnvironment: "smp" } } : hostile;
    expectGolden(`${dialect}-array-hostile.sh`, backend.renderArrayScript(ctx));
    expectGolden(`${dialect}-collect-hostile.sh`, backend.renderCollectScript(collectContext(ctx)));
  });
});

describe("hostile values on Slurm directive lines", () => {
  it("job name and log folder with quotes, spaces, $ and % are quoted (and % doubled)", () => {
    const ctx = hostileArrayContext({ jobName: "a'; echo x", logDir: "/data/my study's/100%/$(id)" });
    expectGolden("slurm-array-hostile-directives.sh", slurmBackend.renderArrayScript(ctx));
  });
});

describe("hostile values on LSF directive lines", () => {
  it("a log folder with spaces and ' is double-quoted on #BSUB lines; \", $, ` and % are refused with a named USAGE error", () => {
    const ctx = hostileArrayContext({ logDir: "/data/my study's/logs" });
    expectGolden("lsf-array-hostile-directives.sh", lsfBackend.renderArrayScript(ctx));
    for (const bad of ['/data/a "b"/logs', "/data/$(id)/logs", "/data/`id`/logs", "/data/100%/logs"]) {
      expect(() => lsfBackend.renderArrayScript(hostileArrayContext({ logDir: bad }))).toThrow(/log folder/);
    }
    for (const name of ["a b", "a%b", "a[1]", "a'b"]) expect(() => lsfBackend.renderArrayScript(plainArrayContext({ jobName: name }))).toThrow(/job name cannot be written on a #BSUB -J line/);
    expect(() => lsfBackend.renderArrayScript(plainArrayContext({ resources: { ...plainArrayContext().resources, partition: 'q"x' } }))).toThrow(/--partition \(LSF queue\)/);
  });
});
