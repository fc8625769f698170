#!/usr/bin/env node
// cst-batch benchmarks: `npm run bench` (full, ~10,000 subjects) or `npm run bench -- --quick`.
// Generates its own data in a temp folder, runs each case several times against dist/ (run
// `npm run build` first) and prints one line per figure: median, baseline median, ratio, target.
// Not a test: nothing here fails on a slow figure; MISS in the output says a target was missed.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CLI, REPO, STANDIN, cli, cliEnv } from "./lib/context.mjs";
import { makeBidsTree, writeDoneTree } from "./lib/data.mjs";
import { run } from "./lib/measure.mjs";
import { machineHeader } from "./lib/report.mjs";
import { planFigure } from "./figures/plan.mjs";
import { runOneFigure, runOneRssFigure } from "./figures/run-one.mjs";
import { collectFigure, earlyStatusFigure, statusFigure } from "./figures/collect-status.mjs";
import { localFigure } from "./figures/local.mjs";
import { slurmFigure } from "./figures/slurm.mjs";
import { metadataFigure, scaleFigure } from "./figures/scale.mjs";

const USAGE = `usage: node bench/run.mjs [--quick] [--subjects N] [--runs N] [--only 1,2,...] [--no-slurm] [--budget-s N] [--keep] [--json FILE] [--scale N] [--cap-mb N]
  --quick        1,000 subjects, 3 runs per case, 100-task Slurm array (~2 min without figure 6, under load)
  --subjects N   study size for plan / collect / status (default 10000); the smaller
                 studies (collect growth, local --jobs 2, Slurm array) are N/10
  --runs N       timed runs per case (default 5; the slow cases use fewer)
  --only LIST    figures to run, e.g. --only 1,2,7
  --no-slurm     skip figure 6
  --budget-s N   whole-run time budget in seconds (default 540): figure 6, the last and
                 the only open-ended one, waits at most what is left of it, and is skipped
                 with under a minute left
  --scale N      biobank mode: figure 8 (plan, run-one, status, collect at N tasks, e.g.
                 200000, next to 10,000 and 1,000: memory, time per task) and figure 9
                 (metadata calls per subject, strace) only, unless --only says more; the
                 N-subject BIDS tree (4 small files per subject, ~1.5 GB of inodes at
                 200,000) and its records are generated under the temp folder and removed
                 after the figure (and the folder at the end, unless --keep)
  --cap-mb N     with --scale: also run plan, run-one, status and collect at N tasks once
                 each under a real memory cap of N MB (default 1024; 0: not), a cgroup v1
                 child of this process's memory cgroup (prlimit --as when none can be
                 made; the output says which): peak RSS, finished under the cap or not
  --keep         keep the generated data (its folder is printed)
  --json FILE    also write the figures as JSON`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    subjects: { type: "string" },
    runs: { type: "string" },
    only: { type: "string" },
    "no-slurm": { type: "boolean", default: false },
    "budget-s": { type: "string" },
    keep: { type: "boolean", default: false },
    json: { type: "string" },
    scale: { type: "string" },
    "cap-mb": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!existsSync(path.join(REPO, "dist", "cli", "main.js"))) {
  console.error("dist/ is missing: run `npm run build` first");
  process.exit(2);
}

const subjects = Number(flags.subjects ?? (flags.quick ? 1000 : 10_000));
const runs = Number(flags.runs ?? (flags.quick ? 3 : 5));
if (!Number.isInteger(subjects) || subjects < 100 || !Number.isInteger(runs) || runs < 1) {
  console.error(`--subjects must be a whole number >= 100 and --runs >= 1\n${USAGE}`);
  process.exit(2);
}
const budgetMs = Number(flags["budget-s"] ?? 540) * 1000;
if (!(budgetMs > 0)) {
  console.error(`--budget-s must be a number of seconds > 0\n${USAGE}`);
  process.exit(2);
}
const scale = flags.scale === undefined ? null : Number(flags.scale);
if (scale !== null && (!Number.isInteger(scale) || scale < 10_000)) {
  console.error(`--scale must be a whole number >= 10000\n${USAGE}`);
  process.exit(2);
}
const capMb = Number(flags["cap-mb"] ?? 1024);
if (!Number.isInteger(capMb) || capMb < 0) {
  console.error(`--cap-mb must be a whole number of MB >= 0\n${USAGE}`);
  process.exit(2);
}
const only = flags.only ? new Set(flags.only.split(",").map((s) => s.trim())) : scale !== null ? new Set(["8", "9"]) : null;
const want = (n) => (only === null || only.has(String(n))) && !(n === 6 && flags["no-slurm"]);
const small = Math.max(10, Math.round(subjects / 10));

const dataDir = mkdtempSync(path.join(os.tmpdir(), "cst-bench-"));
const figures = {};
const ctx = {
  runs,
  slowRuns: Math.max(1, Math.min(3, runs)),
  print: (line) => console.log(line),
  record: (key, value) => (figures[key] = value),
  budgetLeftMs: () => budgetMs - (performance.now() - started),
};
const elapsed = (t) => `${((performance.now() - t) / 1000).toFixed(1)} s`;
const started = performance.now();

console.log(machineHeader(dataDir));
console.log(`settings: ${subjects} subjects, ${runs} runs per case (slow cases ${ctx.slowRuns}), CLI ${path.relative(process.cwd(), CLI) || CLI}`);
console.log("figure".padEnd(44) + "     median  |  ...");

try {
  const paths = {
    bids: path.join(dataDir, "bids"),
    out: path.join(dataDir, "out"),
    smallBids: path.join(dataDir, "bids-small"),
    smallOut: path.join(dataDir, "out-small"),
  };
  let t = performance.now();
  const needsMain = [1, 2, 3, 4, 5, 6, 7].some(want);
  if (needsMain) {
    makeBidsTree(paths.bids, subjects);
    makeBidsTree(paths.smallBids, small);
    console.log(`(data: BIDS trees of ${subjects} and ${small} subjects in ${elapsed(t)})`);
  }

  // Figure 1 leaves the plan of the large study in paths.out; figures 2, 3, 4, 7 use it.
  const planFile = want(1) ? planFigure(ctx, { bids: paths.bids, out: paths.out, subjects }) : needsMain ? planQuietly(paths.bids, paths.out) : null;
  let nextIndex = 0;
  if (want(2)) nextIndex = runOneFigure(ctx, { planFile, firstIndex: 0 });
  if (want(7)) runOneRssFigure(ctx, { planFile, index: nextIndex });
  if (want(4)) earlyStatusFigure(ctx, { out: paths.out, subjects });

  if (want(3) || want(4)) {
    t = performance.now();
    await writeDoneTree(paths.out);
    planQuietly(paths.smallBids, paths.smallOut);
    await writeDoneTree(paths.smallOut);
    console.log(`(data: done trees of ${subjects} and ${small} subjects in ${elapsed(t)})`);
  }
  if (want(3)) collectFigure(ctx, { small: { out: paths.smallOut, subjects: small }, large: { out: paths.out, subjects } });
  if (want(4)) statusFigure(ctx, { out: paths.out, subjects });

  if (want(5)) {
    const [a, b] = [10, 110];
    const aBids = path.join(dataDir, "bids-local-a");
    const bBids = path.join(dataDir, "bids-local-b");
    makeBidsTree(aBids, a);
    makeBidsTree(bBids, b);
    localFigure(ctx, { smallBids: aBids, smallCount: a, bigBids: bBids, bigCount: b, wideBids: paths.smallBids, wideCount: small, outBase: path.join(dataDir, "out-local") });
  }
  if (want(6)) slurmFigure(ctx, { bids: paths.smallBids, count: small, out: path.join(dataDir, "out-slurm") });
  if (want(9)) {
    const metaBids = path.join(dataDir, "bids-meta");
    // 1,000 subjects (fewer only in a run smaller than that): the study's fixed calls spread thin.
    const count = Math.min(subjects, 1000);
    makeBidsTree(metaBids, count);
    await metadataFigure(ctx, { bids: metaBids, out: path.join(dataDir, "out-meta"), subjects: count });
  }
  if (want(8)) {
    if (scale === null) console.log("(figure 8 needs --scale N)");
    else await scaleFigure(ctx, { dataDir, large: scale, capMb });
  }
} finally {
  if (flags.keep) console.log(`(data kept in ${dataDir})`);
  else rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}
console.log(`(total ${elapsed(started)})`);
if (flags.json) writeFileSync(flags.json, JSON.stringify({ subjects, runs, figures }, null, 2) + "\n");

/** Plan without timing it (for the figures that only need a plan). */
function planQuietly(bids, out) {
  run(cli("plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check"), { env: cliEnv() });
  return path.join(out, ".cst-batch", "plan.jsonl");
}

