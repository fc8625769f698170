// Figure 1: plan N subjects x 1 session (NIfTI) with the real CLI, against `find -name`.
import { rmSync } from "node:fs";
import path from "node:path";
import { run, sample } from "../lib/measure.mjs";
import { cpuNote, figureLine } from "../lib/report.mjs";
import { STANDIN, cli, cliEnv } from "../lib/context.mjs";

/** Plans `bids` into `out` (fresh each time) and returns the plan-run samples. */
export function planFigure(ctx, { bids, out, subjects }) {
  const planArgv = cli("plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check");
  const plan = sample(() => run(planArgv, { env: cliEnv() }), {
    times: ctx.runs,
    warmup: 1,
    before: () => rmSync(out, { recursive: true, force: true }),
  });
  // Leave one plan in place for the figures that follow.
  rmSync(out, { recursive: true, force: true });
  run(planArgv, { env: cliEnv() });
  const find = sample(() => run(["find", bids, "-name", "*_dwi.nii.gz"]), { times: ctx.runs, warmup: 1 });
  const ratio = plan.medianMs / find.medianMs;
  ctx.print(
    figureLine({
      name: `1. plan ${subjects} subjects (CLI, validate + write)`,
      value: plan.medianMs,
      baseName: "find -name",
      base: find.medianMs,
      target: "<= 2 s and <= 4x find",
      ok: plan.medianMs <= 2000 && ratio <= 4,
      note: cpuNote(plan, find),
    }),
  );
  ctx.record("plan", { subjects, medianMs: plan.medianMs, cpuMs: plan.medianCpuMs, samples: plan.ms, findMs: find.medianMs, findCpuMs: find.medianCpuMs, ratio });
  return path.join(out, ".cst-batch", "plan.jsonl");
}
