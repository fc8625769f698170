// Figure 8 (`--scale N`): a biobank-size study (N tasks, default 200,000) next to a 10,000-task
// one, measured side by side in one run: plan, submit --dry-run, re-plan of the done study, status (first / cached), collect, resubmit --dry-run: peak RSS
// (target < 400 MB at N) and time per task (target: at N within 1.3x of 10,000); plan against
// `find -name` (target <= 3x); run-one of one task of a submission at N against one at 1,000
// (target: within 10% in time and memory, peak RSS <= 60 MB).
// Then the same commands once each under a real 1 GB memory cap (`--cap-mb`, lib/memory-cap.mjs:
// a cgroup v1 child; the issue is done when such a study plans, runs, reports status and
// collects on a login node with a 1 GB cap): peak RSS and whether each finished under the cap.
// Figure 9: metadata calls on the study filesystem per subject (strace), run-one / status / collect.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { interleave, run } from "../lib/measure.mjs";
import { figureLine, fmtMb, fmtMs } from "../lib/report.mjs";
import { STANDIN, cli, cliEnv } from "../lib/context.mjs";
import { makeBidsTree, writeDoneTree } from "../lib/data.mjs";
import { canStrace, formatByCall, straceCounts } from "../lib/strace.mjs";
import { memoryCap } from "../lib/memory-cap.mjs";

/** The machine's load average (1, 5, 15 min) and its CPU count, printed with each side-by-side measurement. */
export function loadNote() {
  try {
    const [a, b, c] = readFileSync("/proc/loadavg", "utf8").split(" ");
    return `load average ${a} ${b} ${c}`;
  } catch {
    return "load average n/a";
  }
}

/**
 * One run of `argv` under the cap; prints its line: peak RSS (GNU time), the cgroup's peak
 * charge (process memory plus the page cache charged to it) and whether it finished under the cap.
 */
function underCap(ctx, cap, capMb, name, argv, results) {
  const w = cap.wrap(argv);
  let r;
  try {
    r = run(w.argv, { env: cliEnv(), check: false });
  } finally {
    Object.assign((results[name] = {}), w.done());
  }
  const c = results[name];
  Object.assign(c, { status: r.status, rssKb: r.rssKb, ms: r.ms });
  const killed = r.status === 137 || (c.oomKills ?? 0) > 0;
  const finished = r.status === 0 && !killed;
  ctx.print(
    figureLine({
      name: `8. ${capMb} MB cap: ${name}`,
      value: r.rssKb,
      fmt: fmtMb,
      target: `finishes under the ${capMb} MB cap`,
      ok: finished,
      note: `${finished ? "finished" : killed ? "KILLED by the cap (OOM)" : `exit ${r.status}`}; wall ${fmtMs(r.ms)}${c.peakBytes != null ? `; cgroup peak ${fmtMb(c.peakBytes / 1024)} (what was charged to it: private memory and the page cache it brought in, not the node binary's shared pages)` : ""}${c.oomKills != null ? `, OOM kills ${c.oomKills}` : ""}; ${loadNote()}`,
    }),
  );
}

const dist = new URL("../../dist/", import.meta.url);
const load = (p) => import(new URL(p, dist).href);

const planArgv = (bids, out) => cli("plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check");
const statusArgv = (out) => cli("status", "--out", out, "--no-scheduler", "--json");
const collectArgv = (out) => cli("collect", "--out", out, "--no-scheduler");
const resubmitDryArgv = (out) => cli("resubmit", "--out", out, "--scheduler", "slurm", "--dry-run", "--no-profile");
const submitDryArgv = (bids, out) => cli("submit", "--scheduler", "slurm", "--dry-run", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check");

/**
 * A submission record for `out`'s current plan, one task per array element, with its chunk
 * index (as `submit` writes them): run-one --submission FILE --chunk K then runs task K.
 */
async function writeSubmission(out, taskCount, { id = "20261203T000000Z-bench", dryRun = true } = {}) {
  const [{ submissionsDir, submissionChunksPath, currentPlanPath, canaryDir }, { encodeSubmissionChunks }] = await Promise.all([load("layout.js"), load("state/submission-chunks.js")]);
  const file = path.join(submissionsDir(out), `${id}.json`);
  const chunks = Array.from({ length: taskCount }, (_, i) => [i]);
  const planPath = currentPlanPath(out);
  mkdirSync(path.dirname(submissionChunksPath(file)), { recursive: true });
  writeFileSync(submissionChunksPath(file), encodeSubmissionChunks(id, planPath, chunks));
  mkdirSync(canaryDir(out, id), { recursive: true }); // submit makes the canary's folder
  const record = {
    schema_version: 1,
    kind: "cst-batch-submission",
    submission_id: id,
    created_at: new Date().toISOString(),
    scheduler: "slurm",
    plan_id: "bench",
    plan_path: planPath,
    command_line: [],
    chunks,
    shards: [{ shard: 0, first_chunk: 0, count: taskCount, job_id: null, script: "array-0.sh", submit_argv: [] }],
    collect: null,
    // What resubmit takes its resources from (run-one does not read them).
    resources: { array: { time_seconds: 7200, mem_mib: 4096, cpus: 1 } },
    // A dry run's record is not read by status (run-one reads it by path); resubmit's base is a real one.
    dry_run: dryRun,
  };
  writeFileSync(file, JSON.stringify(record, null, 2) + "\n");
  return file;
}

const perTask = (ms, n) => (ms / n) * 1000; // microseconds per task
/** "plan cpu 1.2 s vs find 0.4 s (3.0x)": CPU time is the steadier figure on a loaded machine. */
const cpuRatio = (a, b) => (a.medianCpuMs == null || b.medianCpuMs == null || b.medianCpuMs === 0 ? "n/a" : `${fmtMs(a.medianCpuMs)} vs find ${fmtMs(b.medianCpuMs)} (${(a.medianCpuMs / b.medianCpuMs).toFixed(2)}x)`);

export async function scaleFigure(ctx, { dataDir, large, small = 10_000, runOneSmall = 1000, capMb = 1024 }) {
  const t = performance.now();
  const d = {
    bigBids: path.join(dataDir, "scale-bids"),
    bigOut: path.join(dataDir, "scale-out"),
    smallBids: path.join(dataDir, "scale-bids-small"),
    smallOut: path.join(dataDir, "scale-out-small"),
    tinyBids: path.join(dataDir, "scale-bids-tiny"),
    tinyOut: path.join(dataDir, "scale-out-tiny"),
  };
  makeBidsTree(d.bigBids, large);
  makeBidsTree(d.smallBids, small);
  makeBidsTree(d.tinyBids, runOneSmall);
  ctx.print(`(scale data: BIDS trees of ${large}, ${small} and ${runOneSmall} subjects in ${((performance.now() - t) / 1000).toFixed(0)} s)`);

  // Plan, side by side: each round plans both studies afresh; find runs in the same rounds.
  const rounds = Math.max(1, Math.min(2, ctx.slowRuns));
  // One untimed plan and find of the 10,000-subject tree first: measured in the first round right
  // after the trees were made (the first command of the run), its one round read 4.4x find (session 16).
  rmSync(d.smallOut, { recursive: true, force: true });
  run(planArgv(d.smallBids, d.smallOut), { env: cliEnv() });
  run(["find", d.smallBids, "-name", "*_dwi.nii.gz"]);
  const loadAtPlan = loadNote();
  const p = interleave(
    {
      small: () => (rmSync(d.smallOut, { recursive: true, force: true }), run(planArgv(d.smallBids, d.smallOut), { env: cliEnv() })),
      findSmall: () => run(["find", d.smallBids, "-name", "*_dwi.nii.gz"]),
      large: () => (rmSync(d.bigOut, { recursive: true, force: true }), run(planArgv(d.bigBids, d.bigOut), { env: cliEnv() })),
      findLarge: () => run(["find", d.bigBids, "-name", "*_dwi.nii.gz"]),
    },
    { times: rounds },
  );
  run(planArgv(d.tinyBids, d.tinyOut), { env: cliEnv() });
  const planRatio = { small: p.small.medianMs / p.findSmall.medianMs, large: p.large.medianMs / p.findLarge.medianMs };
  const planGrowth = perTask(p.large.medianMs, large) / perTask(p.small.medianMs, small);
  ctx.print(
    figureLine({
      name: `8. plan ${large} subjects`,
      value: p.large.medianMs,
      baseName: `plan ${small}`,
      base: p.small.medianMs,
      target: "< 400 MB, per task <= 1.3x, <= 3x find",
      ok: p.large.maxRssKb < 400 * 1024 && planGrowth <= 1.3 && planRatio.large <= 3 && planRatio.small <= 3,
      note: `peak RSS ${fmtMb(p.large.maxRssKb)} (${small}: ${fmtMb(p.small.maxRssKb)}); per task ${perTask(p.large.medianMs, large).toFixed(0)} µs vs ${perTask(p.small.medianMs, small).toFixed(0)} µs (x${planGrowth.toFixed(2)}); vs find: ${planRatio.large.toFixed(2)}x at ${large} (find ${fmtMs(p.findLarge.medianMs)}), ${planRatio.small.toFixed(2)}x at ${small} (find ${fmtMs(p.findSmall.medianMs)}); cpu ${cpuRatio(p.large, p.findLarge)} at ${large}, ${cpuRatio(p.small, p.findSmall)} at ${small}; ${loadAtPlan} before, ${loadNote()} after`,
    }),
  );

  // submit --scheduler slurm --dry-run of each study afresh (a new --out: the dry run writes
  // nothing), side by side: plan, pending selection over the subject folders, chunks, scripts.
  // scontrol is a stand-in printing Slurm's default MaxArraySize (no real Slurm is asked).
  const fakeBin = path.join(dataDir, "scale-fake-slurm");
  mkdirSync(fakeBin, { recursive: true });
  writeFileSync(path.join(fakeBin, "scontrol"), "#!/bin/sh\necho 'MaxArraySize            = 1001'\n", { mode: 0o755 });
  const submitEnv = cliEnv({ PATH: `${fakeBin}:${path.dirname(STANDIN)}:${process.env.PATH}` });
  const loadAtSubmit = loadNote();
  const sd = interleave(
    {
      small: () => run(submitDryArgv(d.smallBids, `${d.smallOut}-submit`), { env: submitEnv }),
      large: () => run(submitDryArgv(d.bigBids, `${d.bigOut}-submit`), { env: submitEnv }),
    },
    { times: 1 },
  );
  const submitGrowth = perTask(sd.large.medianMs, large) / perTask(sd.small.medianMs, small);
  ctx.print(
    figureLine({
      name: `8. submit --scheduler slurm --dry-run ${large}`,
      value: sd.large.maxRssKb,
      fmt: fmtMb,
      baseName: `${small}`,
      base: sd.small.maxRssKb,
      target: "< 400 MB, per task <= 1.3x",
      ok: sd.large.maxRssKb < 400 * 1024 && submitGrowth <= 1.3,
      note: `fresh --out (plan included); wall ${fmtMs(sd.large.medianMs)} vs ${fmtMs(sd.small.medianMs)}; per task ${perTask(sd.large.medianMs, large).toFixed(0)} µs vs ${perTask(sd.small.medianMs, small).toFixed(0)} µs (x${submitGrowth.toFixed(2)}); cpu ${fmtMs(sd.large.medianCpuMs)} vs ${fmtMs(sd.small.medianCpuMs)}; ${loadAtSubmit} before, ${loadNote()} after`,
    }),
  );

  // The cap: the large study planned again (afresh) with the cap; its plan stays for what follows.
  const cap = capMb > 0 ? memoryCap(capMb * 1024 * 1024) : null;
  const capped = {};
  if (cap !== null) {
    ctx.print(`(${capMb} MB cap: ${cap.describe})`);
    rmSync(d.bigOut, { recursive: true, force: true });
    underCap(ctx, cap, capMb, `plan ${large}`, planArgv(d.bigBids, d.bigOut), capped);
    if (capped[`plan ${large}`].status !== 0) run(planArgv(d.bigBids, d.bigOut), { env: cliEnv() });
  }

  // run-one of one task, the way an array element runs it (--submission --chunk), at N and at 1,000.
  const bigSub = await writeSubmission(d.bigOut, large);
  const tinySub = await writeSubmission(d.tinyOut, runOneSmall);
  let nextBig = 0;
  let nextTiny = 0;
  const r = interleave(
    {
      tiny: () => run(cli("run-one", "--submission", tinySub, "--chunk", String(nextTiny++)), { env: cliEnv() }),
      big: () => run(cli("run-one", "--submission", bigSub, "--chunk", String(large - 1 - nextBig++)), { env: cliEnv() }),
    },
    { times: ctx.runs * 2, warmup: 1 },
  );
  const timeRatio = r.big.medianMs / r.tiny.medianMs;
  const rssRatio = r.big.medianRssKb / r.tiny.medianRssKb;
  ctx.print(
    figureLine({
      name: `8. run-one --submission --chunk, ${large} tasks`,
      value: r.big.medianMs,
      baseName: `${runOneSmall} tasks`,
      base: r.tiny.medianMs,
      target: "within 10% (time, memory), peak RSS <= 60 MB",
      ok: timeRatio <= 1.1 && rssRatio <= 1.1 && r.big.maxRssKb <= 60 * 1024,
      note: `peak RSS ${fmtMb(r.big.maxRssKb)} (median ${fmtMb(r.big.medianRssKb)}) vs ${fmtMb(r.tiny.maxRssKb)} (median ${fmtMb(r.tiny.medianRssKb)}), x${rssRatio.toFixed(2)}; cpu ${fmtMs(r.big.medianCpuMs)} vs ${fmtMs(r.tiny.medianCpuMs)}`,
    }),
  );

  if (cap !== null) underCap(ctx, cap, capMb, `run-one --submission --chunk (${large} tasks)`, cli("run-one", "--submission", bigSub, "--chunk", String(Math.floor(large / 2))), capped);

  const t2 = performance.now();
  await writeDoneTree(d.bigOut, { light: true });
  await writeDoneTree(d.smallOut, { light: true });
  ctx.print(`(scale data: records of ${large} and ${small} subjects in ${((performance.now() - t2) / 1000).toFixed(0)} s)`);

  // A re-plan of each done study (same BIDS tree, same options: every done subject read back and
  // kept), side by side: the plan a user runs weeks later after adding a few subjects.
  const replanArgv = (out) => cli("plan", "--out", out, "--skip-disk-check");
  const rp = interleave(
    {
      small: () => run(replanArgv(d.smallOut), { env: cliEnv(), check: false }),
      large: () => run(replanArgv(d.bigOut), { env: cliEnv(), check: false }),
    },
    { times: rounds },
  );
  const replanGrowth = perTask(rp.large.medianMs, large) / perTask(rp.small.medianMs, small);
  ctx.print(
    figureLine({
      name: `8. re-plan of the done study ${large}`,
      value: rp.large.maxRssKb,
      fmt: fmtMb,
      baseName: `${small}`,
      base: rp.small.maxRssKb,
      target: "< 400 MB, per task <= 1.3x",
      ok: rp.large.maxRssKb < 400 * 1024 && replanGrowth <= 1.3 && rp.large.results[0]?.status === 0,
      note: `~94% done (input hashes recorded, as run-one writes them); wall ${fmtMs(rp.large.medianMs)} vs ${fmtMs(rp.small.medianMs)}; per task ${perTask(rp.large.medianMs, large).toFixed(0)} µs vs ${perTask(rp.small.medianMs, small).toFixed(0)} µs (x${replanGrowth.toFixed(2)}); cpu ${fmtMs(rp.large.medianCpuMs)} vs ${fmtMs(rp.small.medianCpuMs)}; exit ${rp.large.results[0]?.status}`,
    }),
  );
  if (cap !== null) underCap(ctx, cap, capMb, `re-plan of the done study ${large}`, replanArgv(d.bigOut), capped);

  const cache = (out) => path.join(out, ".cst-batch", "status-cache.json");
  const s = interleave(
    {
      firstSmall: () => (rmSync(cache(d.smallOut), { force: true }), run(statusArgv(d.smallOut), { env: cliEnv(), check: false })),
      cachedSmall: () => run(statusArgv(d.smallOut), { env: cliEnv(), check: false }),
      firstLarge: () => (rmSync(cache(d.bigOut), { force: true }), run(statusArgv(d.bigOut), { env: cliEnv(), check: false })),
      cachedLarge: () => run(statusArgv(d.bigOut), { env: cliEnv(), check: false }),
      collectSmall: () => run(collectArgv(d.smallOut), { env: cliEnv(), check: false }),
      collectLarge: () => run(collectArgv(d.bigOut), { env: cliEnv(), check: false }),
    },
    { times: rounds },
  );
  for (const [name, a, b] of [
    ["status, first (no cache)", s.firstLarge, s.firstSmall],
    ["status, cached", s.cachedLarge, s.cachedSmall],
    ["collect --no-scheduler", s.collectLarge, s.collectSmall],
  ]) {
    const growth = perTask(a.medianMs, large) / perTask(b.medianMs, small);
    ctx.print(
      figureLine({
        name: `8. ${name} ${large}`,
        value: a.maxRssKb,
        fmt: fmtMb,
        baseName: `${small}`,
        base: b.maxRssKb,
        target: "< 400 MB, per task <= 1.3x",
        ok: a.maxRssKb < 400 * 1024 && growth <= 1.3,
        note: `wall ${fmtMs(a.medianMs)} vs ${fmtMs(b.medianMs)}; per task ${perTask(a.medianMs, large).toFixed(0)} µs vs ${perTask(b.medianMs, small).toFixed(0)} µs (x${growth.toFixed(2)}); exit ${a.results[0]?.status}`,
      }),
    );
  }
  if (cap !== null) {
    rmSync(cache(d.bigOut), { force: true });
    underCap(ctx, cap, capMb, `status ${large}, first (no cache)`, statusArgv(d.bigOut), capped);
    underCap(ctx, cap, capMb, `collect --no-scheduler ${large}`, collectArgv(d.bigOut), capped);
  }
  // resubmit --dry-run of each study (every task not done: failed, outdated, never run), side by
  // side: status streamed, the selected tasks' inputs checked, the rerun array's scripts rendered.
  // A real (not dry-run) submission record for each, after the figures above: resubmit takes its resources from it.
  for (const [out, n] of [[d.smallOut, small], [d.bigOut, large]]) await writeSubmission(out, n, { id: "20261203-000001-beef", dryRun: false });
  const rs = interleave(
    {
      small: () => run(resubmitDryArgv(d.smallOut), { env: submitEnv, check: false }),
      large: () => run(resubmitDryArgv(d.bigOut), { env: submitEnv, check: false }),
    },
    { times: 1 },
  );
  const resubmitGrowth = perTask(rs.large.medianMs, large) / perTask(rs.small.medianMs, small);
  ctx.print(
    figureLine({
      name: `8. resubmit --scheduler slurm --dry-run ${large}`,
      value: rs.large.maxRssKb,
      fmt: fmtMb,
      baseName: `${small}`,
      base: rs.small.maxRssKb,
      target: "< 400 MB, per task <= 1.3x",
      ok: rs.large.maxRssKb < 400 * 1024 && resubmitGrowth <= 1.3 && rs.large.results[0]?.status === 0,
      note: `the tasks not done (~6%); wall ${fmtMs(rs.large.medianMs)} vs ${fmtMs(rs.small.medianMs)}; per task ${perTask(rs.large.medianMs, large).toFixed(0)} µs vs ${perTask(rs.small.medianMs, small).toFixed(0)} µs (x${resubmitGrowth.toFixed(2)}); cpu ${fmtMs(rs.large.medianCpuMs)} vs ${fmtMs(rs.small.medianCpuMs)}; exit ${rs.large.results[0]?.status}`,
    }),
  );
  ctx.record("scale", {
    large,
    small,
    load: loadAtPlan,
    cap: cap === null ? null : { mb: capMb, how: cap.kind, describe: cap.describe, commands: capped },
    plan: { largeMs: p.large.medianMs, smallMs: p.small.medianMs, largeRssKb: p.large.maxRssKb, smallRssKb: p.small.maxRssKb, findLargeMs: p.findLarge.medianMs, findSmallMs: p.findSmall.medianMs, largeCpuMs: p.large.medianCpuMs, findLargeCpuMs: p.findLarge.medianCpuMs, smallCpuMs: p.small.medianCpuMs, findSmallCpuMs: p.findSmall.medianCpuMs },
    runOne: { largeMs: r.big.medianMs, smallMs: r.tiny.medianMs, largeRssKb: r.big.maxRssKb, smallRssKb: r.tiny.maxRssKb },
    status: { firstLargeMs: s.firstLarge.medianMs, firstSmallMs: s.firstSmall.medianMs, cachedLargeMs: s.cachedLarge.medianMs, cachedSmallMs: s.cachedSmall.medianMs, firstLargeRssKb: s.firstLarge.maxRssKb, cachedLargeRssKb: s.cachedLarge.maxRssKb },
    submitDryRun: { largeMs: sd.large.medianMs, smallMs: sd.small.medianMs, largeRssKb: sd.large.maxRssKb, smallRssKb: sd.small.maxRssKb, largeCpuMs: sd.large.medianCpuMs, smallCpuMs: sd.small.medianCpuMs },
    replanDone: { largeMs: rp.large.medianMs, smallMs: rp.small.medianMs, largeRssKb: rp.large.maxRssKb, smallRssKb: rp.small.maxRssKb, largeCpuMs: rp.large.medianCpuMs, smallCpuMs: rp.small.medianCpuMs },
    resubmitDryRun: { largeMs: rs.large.medianMs, smallMs: rs.small.medianMs, largeRssKb: rs.large.maxRssKb, smallRssKb: rs.small.maxRssKb },
    collect: { largeMs: s.collectLarge.medianMs, smallMs: s.collectSmall.medianMs, largeRssKb: s.collectLarge.maxRssKb, smallRssKb: s.collectSmall.maxRssKb },
  });
  for (const dir of [...Object.values(d), fakeBin]) rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

/**
 * Figure 9: calls on the study filesystem per subject (strace), on a study of `subjects`:
 * run-one of fresh tasks (median of 3), then status (first, cached) and collect over its records.
 */
export async function metadataFigure(ctx, { bids, out, subjects }) {
  if (!canStrace) {
    ctx.print(figureLine({ name: "9. metadata calls (strace)", value: null, note: "n/a (strace missing)" }));
    ctx.record("metadata", null);
    return;
  }
  const roots = [out, bids];
  rmSync(out, { recursive: true, force: true });
  run(planArgv(bids, out), { env: cliEnv() });
  const planFile = path.join(out, ".cst-batch", "plan.jsonl");
  const sub = await writeSubmission(out, subjects);
  // The canary's first K (3) subjects take its slots; every later subject (the typical one) reads
  // the verdict and finds the slots taken. Both are measured: chunks 0-2, then 3 more past them.
  const runOneAt = (k) => straceCounts(cli("run-one", "--submission", sub, "--chunk", String(k)), { env: cliEnv(), roots });
  const median3 = (list) => list.sort((a, b) => a.total - b.total)[1];
  const canarySubject = median3([0, 1, 2].map(runOneAt));
  const typical = median3([5, 6, 7].map(runOneAt));
  for (const [label, c] of [
    ["past the canary (chunk >= K)", typical],
    ["a canary subject (chunk < K)", canarySubject],
  ]) {
    ctx.print(
      figureLine({
        name: `9. run-one metadata calls, ${label}`,
        value: c.total,
        fmt: (v) => (v === null ? "n/a" : String(v)),
        target: "<= 60",
        ok: c.total <= 60,
        note: `${formatByCall(c.byCall)}; on descriptors: ${formatByCall(c.descByCall)}; ${c.closes} closes not counted; --submission --chunk of a fresh subject (stand-in's own calls not counted)`,
      }),
    );
  }
  const mid = typical;
  await writeDoneTree(out);
  rmSync(path.join(out, ".cst-batch", "status-cache.json"), { force: true });
  const first = straceCounts(statusArgv(out), { env: cliEnv(), roots });
  const cached = straceCounts(statusArgv(out), { env: cliEnv(), roots });
  const coll = straceCounts(collectArgv(out), { env: cliEnv(), roots });
  for (const [name, c, target] of [
    ["status, first", first, 3],
    ["status, cached", cached, 2.5],
    ["collect --no-scheduler", coll, 5],
  ]) {
    const per = c.total / subjects;
    ctx.print(
      figureLine({
        name: `9. ${name}: calls per subject`,
        value: per,
        fmt: (v) => v.toFixed(2),
        target: `<= ${target}`,
        ok: per <= target,
        note: `${subjects} subjects; ${formatByCall(c.byCall, subjects)}; on descriptors ${(c.descCalls / subjects).toFixed(2)} (${formatByCall(c.descByCall, subjects)}); closes ${(c.closes / subjects).toFixed(2)} not counted`,
      }),
    );
  }
  ctx.record("metadata", { runOne: mid, runOneCanary: canarySubject, statusFirst: first, statusCached: cached, collect: coll, subjects });
}
