// Figure 2: run-one overhead (wall minus the stand-in's bare run), next to `node -e 0`.
// Figure 7: run-one's peak RSS while it supervises a child that lives for a second.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { interleave, median, run, sample, canMeasureRss } from "../lib/measure.mjs";
import { figureLine, fmtMb, fmtMs } from "../lib/report.mjs";
import { NODE, cli, cliEnv } from "../lib/context.mjs";

/**
 * The stand-in's argv for a task of a schema-2 plan (header line, one line per task; input paths
 * relative to input_root), --out into a scratch folder (for the bare stand-in run): what run-one
 * hands csttool (src/run/csttool-argv.ts), without options (the bench plans none).
 */
function bareArgv(header, task, scratch) {
  const nifti = path.isAbsolute(task.input.nifti) ? task.input.nifti : path.join(header.input_root, task.input.nifti);
  const argv = [header.csttool.executable, "run", "--nifti", nifti, "--out", scratch, "--subject-id", task.subject.replace(/^sub-/, "")];
  if (task.session) argv.push("--session-id", task.session.replace(/^ses-/, ""));
  return argv;
}

/**
 * NODE_EXTRA_CA_CERTS makes Node 20 read and parse that certificate bundle at every start, before
 * any script runs (this VM's sandbox sets it for every process: ~50 ms per start here). Figure 2
 * is measured in the caller's environment; when the variable is set, run-one and its floor are
 * also measured without it, interleaved with the rest, to show what cst-batch itself adds.
 */
const START_COST_VAR = "NODE_EXTRA_CA_CERTS";

function withoutVar(env, name) {
  const copy = { ...env };
  delete copy[name];
  return copy;
}

export function runOneFigure(ctx, { planFile, firstIndex }) {
  const [headerLine, ...taskLines] = readFileSync(planFile, "utf8").trimEnd().split("\n");
  const plan = { header: JSON.parse(headerLine), tasks: taskLines.map((l) => JSON.parse(l)) };
  const taskCount = plan.tasks.length;
  const scratch = mkdtempSync(path.join(os.tmpdir(), "cst-bench-bare-"));
  // A fresh task each time, so csttool really runs (a done task would be skipped).
  let next = firstIndex;
  const runOneArgv = () => cli("run-one", "--plan", planFile, "--index", String(next++));
  const cases = {
    bare: (i) => run(bareArgv(plan.header, plan.tasks[(firstIndex + i) % taskCount], scratch)),
    floor: () => run([NODE, "-e", "0"]),
    runOne: () => run(runOneArgv(), { env: cliEnv() }),
  };
  const startVar = process.env[START_COST_VAR];
  if (startVar) {
    cases.floorWithout = () => run([NODE, "-e", "0"], { env: withoutVar(process.env, START_COST_VAR) });
    cases.runOneWithout = () => run(runOneArgv(), { env: withoutVar(cliEnv(), START_COST_VAR) });
  }
  // Round by round: this VM's speed drifts, and a drift between run-one and the bare run would land in the difference.
  const m = interleave(cases, { times: ctx.runs * 2, warmup: 2 });
  rmSync(scratch, { recursive: true, force: true });
  const { bare, floor, runOne } = m;
  const overhead = runOne.medianMs - bare.medianMs;
  ctx.print(
    figureLine({
      name: `2. run-one overhead (${taskCount}-task plan)`,
      value: overhead,
      baseName: "node -e 0",
      base: floor.medianMs,
      target: "<= 150 ms",
      ok: overhead <= 150,
      note: `run-one wall ${runOne.medianMs.toFixed(1)} ms, stand-in bare ${bare.medianMs.toFixed(1)} ms; cpu run-one ${fmtMs(runOne.medianCpuMs)}, stand-in ${fmtMs(bare.medianCpuMs)}, node -e 0 ${fmtMs(floor.medianCpuMs)}`,
    }),
  );
  const record = { wallMs: runOne.medianMs, cpuMs: runOne.medianCpuMs, samples: runOne.ms, bareMs: bare.medianMs, bareCpuMs: bare.medianCpuMs, floorMs: floor.medianMs, floorCpuMs: floor.medianCpuMs, overheadMs: overhead };
  if (startVar) {
    const without = m.runOneWithout.medianMs - bare.medianMs;
    ctx.print(
      figureLine({
        name: `2. run-one overhead, ${START_COST_VAR} unset`,
        value: without,
        baseName: "node -e 0",
        base: m.floorWithout.medianMs,
        target: "<= 150 ms",
        ok: without <= 150,
        note: `${START_COST_VAR} is set here (${startVar}); Node parses that bundle at every start: node -e 0 ${fmtMs(floor.medianMs)} with it, ${fmtMs(m.floorWithout.medianMs)} without`,
      }),
    );
    Object.assign(record, { withoutVar: START_COST_VAR, wallWithoutMs: m.runOneWithout.medianMs, floorWithoutMs: m.floorWithout.medianMs, overheadWithoutMs: without });
  }
  ctx.record("runOne", record);
  return next;
}

export function runOneRssFigure(ctx, { planFile, index }) {
  if (!canMeasureRss) {
    ctx.print(figureLine({ name: "7. run-one peak RSS (supervising 1 s child)", value: null, fmt: fmtMb, note: "n/a (/usr/bin/time missing)" }));
    return;
  }
  const argv = cli("run-one", "--plan", planFile, "--index", String(index), "--force");
  const env = cliEnv({ CST_BENCH_SLEEP: "1" });
  const s = sample(() => run(argv, { env, rss: true }), { times: Math.max(3, Math.ceil(ctx.runs / 2)) });
  const floor = sample(() => run([NODE, "-e", "0"], { rss: true }), { times: 3 });
  ctx.print(
    figureLine({
      name: "7. run-one peak RSS (supervising 1 s child)",
      value: s.maxRssKb,
      fmt: fmtMb,
      baseName: "node -e 0",
      base: floor.medianRssKb,
      target: "<= 80 MB",
      ok: s.maxRssKb <= 80 * 1024,
      note: `median ${fmtMb(s.medianRssKb)}, wall ${median(s.ms).toFixed(0)} ms`,
    }),
  );
  ctx.record("runOneRss", { maxRssKb: s.maxRssKb, medianRssKb: s.medianRssKb, floorKb: floor.medianRssKb });
}
