// Figure 1: plan N subjects x 1 session (NIfTI) with the real CLI, against `find -name`.
import { rmSync } from "node:fs";
import path from "node:path";
import { interleave, run } from "../lib/measure.mjs";
import { cpuNote, figureLine, fmtMs } from "../lib/report.mjs";
import { REPO, STANDIN, cli, cliEnv } from "../lib/context.mjs";

const FLOOR = path.join(REPO, "bench", "plan-floor.mjs");

/** Plans `bids` into `out` (fresh each time) and returns the plan-run samples. */
export function planFigure(ctx, { bids, out, subjects }) {
  const planArgv = cli("plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check");
  // Round by round (plan, then find): a drift in the machine's speed lands on both alike.
  const { plan, find, floor } = interleave(
    {
      plan: () => {
        rmSync(out, { recursive: true, force: true });
        return run(planArgv, { env: cliEnv() });
      },
      find: () => run(["find", bids, "-name", "*_dwi.nii.gz"]),
      // The calls plan makes, from a bare loop: how near the floor plan is on this host.
      floor: () => run([process.execPath, FLOOR, bids]),
    },
    { times: ctx.runs, warmup: 1 },
  );
  // Leave one plan in place for the figures that follow.
  rmSync(out, { recursive: true, force: true });
  run(planArgv, { env: cliEnv() });
  const ratio = plan.medianMs / find.medianMs;
  // Issue 21's target is 3x find; on a loaded machine wall time mostly measures the others' work,
  // so the CPU time ratio (user + sys, both sides) is shown and judged too.
  const cpuRatio = plan.medianCpuMs != null && find.medianCpuMs ? plan.medianCpuMs / find.medianCpuMs : null;
  const cpuText = cpuNote(plan, find);
  ctx.print(
    figureLine({
      name: `1. plan ${subjects} subjects (CLI, validate + write)`,
      value: plan.medianMs,
      baseName: "find -name",
      base: find.medianMs,
      target: "<= 2 s and <= 3x find (wall or cpu)",
      ok: plan.medianMs <= 2000 && (ratio <= 3 || (cpuRatio !== null && cpuRatio <= 3)),
      note: `${cpuText === undefined ? "" : `${cpuText}${cpuRatio !== null ? ` (cpu ratio ${cpuRatio.toFixed(2)})` : ""}; `}floor (plan's file-system calls from a bare loop, bench/plan-floor.mjs) ${fmtMs(floor.medianMs)}, ${(floor.medianMs / find.medianMs).toFixed(2)}x find${floor.medianCpuMs != null && find.medianCpuMs ? `, cpu ${(floor.medianCpuMs / find.medianCpuMs).toFixed(2)}x` : ""}`,
    }),
  );
  ctx.record("plan", { subjects, medianMs: plan.medianMs, cpuMs: plan.medianCpuMs, samples: plan.ms, findMs: find.medianMs, findCpuMs: find.medianCpuMs, ratio, cpuRatio, floorMs: floor.medianMs, floorCpuMs: floor.medianCpuMs });
  return path.join(out, ".cst-batch", "plan.jsonl");
}
