// Figure 5: local mode (`submit --scheduler local`) with the instant stand-in: the per-subject
// overhead at --jobs 1 (slope between two study sizes, minus the stand-in's bare run), and the
// total wall time of a larger study at --jobs 2.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { median, run, sample } from "../lib/measure.mjs";
import { figureLine } from "../lib/report.mjs";
import { STANDIN, cli, cliEnv } from "../lib/context.mjs";

function submitArgv(bids, out, jobs) {
  return cli("submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--jobs", String(jobs), "--csttool", STANDIN, "--skip-disk-check");
}

/** Median wall of a fresh local run of the whole study. */
function timeStudy(ctx, bids, out, jobs, times) {
  return sample(() => run(submitArgv(bids, out, jobs), { env: cliEnv() }), {
    times,
    before: () => rmSync(out, { recursive: true, force: true }),
  });
}

/** One bare run of the stand-in (as csttool would be run for one subject), in `scratch`. */
function bareRun(scratch, i) {
  return run([STANDIN, "run", "--nifti", "x.nii.gz", "--out", scratch, "--subject-id", `b${i}`, "--session-id", "01"]);
}

/**
 * The small study, the big study and the stand-in's bare runs, interleaved round by round: the
 * slope and the bare time are taken under the same conditions (this VM's speed drifts by tens of
 * percent over minutes, and a drift between them would land in the difference).
 */
function interleaved(ctx, smallBids, bigBids, outBase) {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "cst-bench-bare-"));
  const small = [];
  const big = [];
  const bare = [];
  let n = 0;
  for (let i = 0; i < 2; i++) bareRun(scratch, n++); // warm-up
  for (let round = 0; round < ctx.runs; round++) {
    for (let i = 0; i < 3; i++) bare.push(bareRun(scratch, n++).ms);
    small.push(timeStudy(ctx, smallBids, `${outBase}-a`, 1, 1).medianMs);
    big.push(timeStudy(ctx, bigBids, `${outBase}-b`, 1, 1).medianMs);
  }
  rmSync(scratch, { recursive: true, force: true });
  return { a: { medianMs: median(small) }, b: { medianMs: median(big) }, bareMs: median(bare) };
}

export function localFigure(ctx, { smallBids, smallCount, bigBids, bigCount, wideBids, wideCount, outBase }) {
  const { a, b, bareMs } = interleaved(ctx, smallBids, bigBids, outBase);
  const perSubject = (b.medianMs - a.medianMs) / (bigCount - smallCount);
  const overhead = perSubject - bareMs;
  ctx.print(
    figureLine({
      name: "5. local --jobs 1 per-subject overhead",
      value: overhead,
      baseName: "stand-in bare run",
      base: bareMs,
      target: "<= 10 ms",
      ok: overhead <= 10,
      note: `${perSubject.toFixed(1)} ms/subject (slope ${smallCount}->${bigCount} subjects: ${a.medianMs.toFixed(0)} -> ${b.medianMs.toFixed(0)} ms)`,
    }),
  );
  const w = timeStudy(ctx, wideBids, `${outBase}-w`, 2, 1);
  ctx.print(
    figureLine({
      name: `5. local --jobs 2, ${wideCount} subjects, total wall`,
      value: w.medianMs,
      note: `${(w.medianMs / wideCount).toFixed(1)} ms/subject incl. plan + collect`,
    }),
  );
  for (const s of ["a", "b", "w"]) rmSync(`${outBase}-${s}`, { recursive: true, force: true });
  ctx.record("local", { perSubjectMs: perSubject, overheadMs: overhead, smallMs: a.medianMs, bigMs: b.medianMs, wideMs: w.medianMs, wideCount });
}
