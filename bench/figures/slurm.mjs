// Figure 6: render + submit a task array on the test Slurm, and the time until its last task
// finished (instant stand-in), next to a bare `sbatch --array=0-(n-1) --wrap true`.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { run } from "../lib/measure.mjs";
import { figureLine } from "../lib/report.mjs";
import { STANDIN, cli, cliEnv } from "../lib/context.mjs";

const POLL_MS = 250;
/** Longest wait for an array to finish; override with CST_BENCH_SLURM_WAIT_S. */
const WAIT_LIMIT_MS = Number(process.env.CST_BENCH_SLURM_WAIT_S ?? 300) * 1000;

function slurmPresent() {
  return spawnSync("sinfo", ["-h"], { encoding: "utf8" }).status === 0;
}

/** Jobs of these ids still pending / running / completing. */
function activeCount(ids) {
  const r = spawnSync("squeue", ["-h", "-j", ids.join(","), "-t", "PD,R,CG,CF,S", "-o", "%i"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n").filter((l) => l.trim() !== "").length : 0;
}

/**
 * Wait until none of the jobs is active; returns ms since `t0`, or null when `limitMs` passed
 * first (the jobs are then cancelled, so they do not load the following runs).
 */
function waitFinished(ids, t0, limitMs) {
  const deadline = Date.now() + limitMs;
  while (activeCount(ids) > 0) {
    if (Date.now() > deadline) {
      spawnSync("scancel", ids);
      return null;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, POLL_MS);
  }
  return performance.now() - t0;
}

function otherJobs() {
  const r = spawnSync("squeue", ["-h", "-o", "%i"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n").filter(Boolean).length : 0;
}

/** How long the bench may still wait (ms): CST_BENCH_SLURM_WAIT_S, or less when the harness's time budget is short. */
function waitLimit(ctx, share = 1) {
  const budgetLeft = ctx.budgetLeftMs();
  return Math.max(0, Math.min(WAIT_LIMIT_MS, budgetLeft * share));
}

function cutNote(limitMs) {
  return limitMs < WAIT_LIMIT_MS ? `not finished within ${(limitMs / 1000).toFixed(0)} s, the bench's time budget (cancelled; --budget-s N to allow more)` : `not finished within ${WAIT_LIMIT_MS / 1000} s (cancelled; CST_BENCH_SLURM_WAIT_S=N to wait longer)`;
}

/** Below this much of the time budget left, figure 6 is not started. */
const MIN_BUDGET_MS = 60_000;

export function slurmFigure(ctx, { bids, count, out }) {
  const name = `6. slurm ${count}-task array`;
  if (!slurmPresent()) {
    ctx.print(figureLine({ name, value: null, note: "n/a (no Slurm: sinfo fails)" }));
    return;
  }
  if (ctx.budgetLeftMs() < MIN_BUDGET_MS) {
    ctx.print(figureLine({ name, value: null, note: `skipped: ${Math.max(0, ctx.budgetLeftMs() / 1000).toFixed(0)} s left of the bench's time budget (--budget-s N to allow more)` }));
    return;
  }
  const busy = otherJobs();
  const scratch = mkdtempSync(path.join(os.tmpdir(), "cst-bench-sbatch-"));
  // The floor: a bare array of `true` plus an afterany job (what collect is to cst-batch's array).
  const t0 = performance.now();
  const sub = run(["sbatch", "--parsable", `--array=0-${count - 1}`, "--wrap", "true", "-o", "/dev/null", "-J", "cst-bench-bare"], { cwd: scratch });
  const bareId = sub.stdout.trim().split(";")[0];
  const after = run(["sbatch", "--parsable", `--dependency=afterany:${bareId}`, "--wrap", "true", "-o", "/dev/null", "-J", "cst-bench-bare-after"], { cwd: scratch });
  const afterId = after.stdout.trim().split(";")[0];
  // cst-batch's array takes ~1.5-1.7x the bare one here: leave it the larger share of the budget.
  const bareLimit = waitLimit(ctx, 0.35);
  const bareArrayDone = waitFinished([bareId], t0, bareLimit);
  const bareDone = bareArrayDone === null ? null : waitFinished([afterId], t0, Math.max(10_000, bareLimit - bareArrayDone));
  if (bareDone === null) spawnSync("scancel", [bareId, afterId]);
  rmSync(scratch, { recursive: true, force: true });
  ctx.print(
    figureLine({
      name: `${name}: bare sbatch submit`,
      value: sub.ms,
      note: `${bareDone === null ? cutNote(bareLimit) : `all ${count} finished after ${(bareArrayDone / 1000).toFixed(1)} s, the afterany job after ${(bareDone / 1000).toFixed(1)} s`}${busy ? `; ${busy} other job(s) were queued at start` : ""}`,
    }),
  );
  const record = { count, bareSubmitMs: sub.ms, bareArrayDoneMs: bareArrayDone, bareDoneMs: bareDone, otherJobs: busy };

  // cst-batch's own Slurm path, when it exists: probe with a dry run first.
  rmSync(out, { recursive: true, force: true });
  const base = ["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check"];
  const dry = run(cli(...base, "--dry-run"), { env: cliEnv(), check: false });
  if (dry.status !== 0) {
    ctx.print(figureLine({ name: `${name}: cst-batch submit`, value: null, note: "n/a (submit --scheduler slurm not available)" }));
    ctx.record("slurm", { ...record, available: false });
    return;
  }
  rmSync(out, { recursive: true, force: true });
  const t1 = performance.now();
  const real = run(cli(...base), { env: cliEnv(), check: false });
  const ids = submittedJobIds(out);
  const collectIds = submittedJobIds(out, { collect: true });
  if (real.status !== 0 || ids.length === 0) {
    ctx.print(figureLine({ name: `${name}: cst-batch submit`, value: null, note: `failed (exit ${real.status}): ${real.stderr.trim().split("\n").slice(-2).join(" | ")}` }));
    ctx.record("slurm", { ...record, available: true, failed: true });
    return;
  }
  // Keep ~10 s for the clean-up.
  const limit = Math.max(0, waitLimit(ctx) - 10_000);
  const arrayDone = waitFinished(ids, t1, limit);
  const done = arrayDone === null ? null : waitFinished(collectIds, t1, Math.max(10_000, limit - arrayDone));
  if (done === null) spawnSync("scancel", [...ids, ...collectIds]);
  ctx.print(
    figureLine({
      name: `${name}: cst-batch submit (plan + render + sbatch)`,
      value: real.ms,
      baseName: "bare sbatch",
      base: sub.ms,
    }),
  );
  ctx.print(
    figureLine({
      name: `${name}: submit -> last task finished`,
      value: arrayDone,
      baseName: "bare array of true",
      base: bareArrayDone,
      note: arrayDone === null ? cutNote(limit) : undefined,
    }),
  );
  ctx.print(
    figureLine({
      name: `${name}: submit -> collect done`,
      value: done,
      baseName: "bare array + afterany job",
      base: bareDone,
      target: "<= 1.2x",
      ok: done !== null && bareDone !== null ? done <= 1.2 * bareDone : undefined,
      note: done === null ? cutNote(limit) : undefined,
    }),
  );
  ctx.record("slurm", { ...record, available: true, submitMs: real.ms, arrayDoneMs: arrayDone, doneMs: done });
  rmSync(out, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

/** Array job ids (or, with `collect`, the collect job ids) from the submission record(s) cst-batch wrote. */
function submittedJobIds(out, { collect = false } = {}) {
  const dir = path.join(out, ".cst-batch", "submissions");
  let names = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  const ids = [];
  for (const n of names) {
    try {
      const s = JSON.parse(readFileSync(path.join(dir, n), "utf8"));
      const jobs = collect ? [s.collect].filter(Boolean) : (s.shards ?? []);
      for (const job of jobs) if (job.job_id) ids.push(String(job.job_id).split(";")[0]);
    } catch {
      // a record being written: skip
    }
  }
  return ids;
}
