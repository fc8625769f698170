// Figure 3: collect over done subject trees (wall + peak RSS), at N/10 and N subjects.
// Figure 4: status over N tasks from records (the CLI when it exists, else readAllTaskStates).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rmSync } from "node:fs";
import { interleave, median, run, sample } from "../lib/measure.mjs";
import { cpuNote, figureLine, fmtMb } from "../lib/report.mjs";
import { NODE, cli, cliEnv } from "../lib/context.mjs";

export function collectFigure(ctx, { small, large }) {
  const measure = (out) => sample(() => run(cli("collect", "--out", out), { env: cliEnv(), rss: true }), { times: ctx.slowRuns, warmup: 1 });
  const s = measure(small.out);
  const l = measure(large.out);
  const timeGrowth = l.medianMs / s.medianMs;
  const rssGrowth = l.maxRssKb && s.maxRssKb ? l.maxRssKb / s.maxRssKb : null;
  const scale = large.subjects / small.subjects;
  ctx.print(
    figureLine({
      name: `3. collect ${large.subjects} done subjects (CLI)`,
      value: l.medianMs,
      baseName: `collect ${small.subjects}`,
      base: s.medianMs,
      target: "<= 3 s",
      ok: l.medianMs <= 3000,
      note: `growth x${timeGrowth.toFixed(1)} for x${scale} subjects; ${cpuNote(l, s)}`,
    }),
  );
  ctx.print(
    figureLine({
      name: `3. collect ${large.subjects} peak RSS`,
      value: l.maxRssKb,
      fmt: fmtMb,
      baseName: `collect ${small.subjects}`,
      base: s.maxRssKb,
      target: "<= 200 MB",
      ok: l.maxRssKb === null ? null : l.maxRssKb <= 200 * 1024,
      note: rssGrowth ? `growth x${rssGrowth.toFixed(1)} for x${scale} subjects` : undefined,
    }),
  );
  // collect first records the scheduler's verdicts (a whole `status` pass) unless --no-scheduler.
  const help = run(cli("collect", "--help"), { env: cliEnv(), check: false }).stdout;
  if (/--no-scheduler\b/.test(help)) {
    const n = sample(() => run(cli("collect", "--out", large.out, "--no-scheduler"), { env: cliEnv() }), { times: ctx.slowRuns });
    ctx.print(
      figureLine({
        name: `3. collect ${large.subjects} --no-scheduler`,
        value: n.medianMs,
        target: "<= 3 s, <= 200 MB",
        ok: n.medianMs <= 3000 && (n.maxRssKb === null || n.maxRssKb <= 200 * 1024),
        note: `peak RSS ${fmtMb(n.maxRssKb)}; ${cpuNote(n)}`,
      }),
    );
    ctx.record("collectNoScheduler", { medianMs: n.medianMs, cpuMs: n.medianCpuMs, maxRssKb: n.maxRssKb });
  }
  ctx.record("collect", {
    small: { subjects: small.subjects, medianMs: s.medianMs, maxRssKb: s.maxRssKb },
    large: { subjects: large.subjects, medianMs: l.medianMs, cpuMs: l.medianCpuMs, maxRssKb: l.maxRssKb, samples: l.ms },
  });
}

/** The `status` command's argv when the CLI has one (null: not there yet). */
function statusCommand(out) {
  const help = run(cli("status", "--help"), { env: cliEnv(), check: false });
  if (help.status !== 0 || !/^Usage: cst-batch status/m.test(help.stdout)) return null;
  const text = help.stdout + help.stderr;
  const argv = cli("status", "--out", out);
  if (/--no-scheduler\b/.test(text)) argv.push("--no-scheduler");
  else if (/--scheduler\b/.test(text)) argv.push("--scheduler", "none");
  if (/--json\b/.test(text)) argv.push("--json");
  return argv;
}

export function statusFigure(ctx, { out, subjects }) {
  const direct = path.join(fileURLToPath(new URL("../lib/", import.meta.url)), "status-direct.mjs");
  const d = sample(() => run([NODE, direct, out]), { times: ctx.slowRuns, warmup: 1 });
  const inner = d.results.map((r) => JSON.parse(r.stdout));
  const statesMs = median(inner.map((x) => x.statesMs));
  const planMs = median(inner.map((x) => x.planMs));
  const slimPlanMs = median(inner.map((x) => x.slimPlanMs));
  const argv = statusCommand(out);
  let cliMs = null;
  let cliCpu = null;
  let cold = null;
  if (argv) {
    // exit 0 or "some failed" are both fine here; only the time matters. Round by round: a
    // status with the cache of the previous one (what every later status and --watch refresh
    // costs), and one with the cache removed first (the first status over these records).
    const cache = path.join(out, ".cst-batch", "status-cache.json");
    const m = interleave(
      {
        cold: () => {
          rmSync(cache, { force: true });
          return run(argv, { env: cliEnv(), check: false });
        },
        warm: () => run(argv, { env: cliEnv(), check: false }),
      },
      { times: ctx.slowRuns, warmup: 1 },
    );
    cliMs = m.warm.medianMs;
    cliCpu = m.warm;
    cold = m.cold;
  }
  ctx.print(
    figureLine({
      name: `4. status ${subjects} tasks from records`,
      value: cliMs ?? d.medianMs,
      target: "<= 1 s",
      ok: (cliMs ?? d.medianMs) <= 1000,
      note: `${argv ? "CLI `status` after an earlier one (unchanged done records come from .cst-batch/status-cache.json)" : "no `status` command: process running loadPlan + readAllTaskStates"}; in-process: loadPlan ${planMs.toFixed(0)} ms (loadPlanRefs, what status uses: ${slimPlanMs.toFixed(0)} ms) + readAllTaskStates ${statesMs.toFixed(0)} ms, no cache; whole process ${d.medianMs.toFixed(0)} ms; ${cpuNote(cliCpu ?? d)}`,
    }),
  );
  if (cold) {
    ctx.print(
      figureLine({
        name: `4. status ${subjects} tasks, first (no cache)`,
        value: cold.medianMs,
        target: "<= 1 s",
        ok: cold.medianMs <= 1000,
        note: `CLI \`status\` with the cache removed: every _done.json read and parsed, and the cache written; ${cpuNote(cold)}`,
      }),
    );
  }
  ctx.record("status", { cliMs, coldMs: cold?.medianMs ?? null, directMs: d.medianMs, planMs, slimPlanMs, statesMs, counts: inner[0]?.counts });
}

/** Figure 4 early in a study: the same status over a plan whose subjects have (nearly) no records yet. */
export function earlyStatusFigure(ctx, { out, subjects }) {
  const argv = statusCommand(out);
  if (!argv) return;
  const c = sample(() => run(argv, { env: cliEnv(), check: false }), { times: ctx.slowRuns, warmup: 1 });
  ctx.print(
    figureLine({
      name: `4. status ${subjects} tasks, before the run`,
      value: c.medianMs,
      target: "<= 1 s",
      ok: c.medianMs <= 1000,
      note: `CLI \`status\` on figure 1's plan, where only figures 2 and 7's few tasks have records; ${cpuNote(c)}`,
    }),
  );
  ctx.record("statusEarly", { cliMs: c.medianMs, cpuMs: c.medianCpuMs });
}
