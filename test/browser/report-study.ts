/**
 * A collected output folder for the report tests: successful subjects with metrics (one clear FA
 * outlier), failures of several categories (one with a hostile error message), pending subjects,
 * per-subject logs and csttool HTML reports.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DONE_FILE } from "../../src/layout.js";
import {
  fullMetricsSpec,
  metricsJsonText,
  writeDone,
  writeFailedAttempt,
  writeLogs,
  writeMetricsReports,
  writePlan,
} from "../helpers/collect-fixtures.js";

export const HOSTILE_ERROR = `</script><script>alert(1)</script><img src=x onerror="alert(2)"> & "quotes"`;

export interface ReportStudy {
  total: number;
  success: number;
  failed: { key: string; category: string }[];
  pending: number;
  outlierKey: string;
  hostileKey: string;
}

/** Deterministic normal-ish numbers. */
function gen(seed: number): () => number {
  let s = seed;
  const u = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

export function makeReportStudy(out: string, successCount = 30): ReportStudy {
  const failures: [string, "PIPELINE_FAILED" | "TIMEOUT" | "OUT_OF_MEMORY", string][] = [
    ["sub-f01", "PIPELINE_FAILED", HOSTILE_ERROR],
    ["sub-f02", "PIPELINE_FAILED", "csttool exited with status 1: ValueError: bvals and bvecs differ"],
    ["sub-f03", "PIPELINE_FAILED", "csttool exited with status 1: no streamlines survived filtering"],
    ["sub-f04", "TIMEOUT", "csttool ran longer than the time limit (120 min) and was stopped"],
    ["sub-f05", "TIMEOUT", "csttool ran longer than the time limit (120 min) and was stopped"],
    ["sub-f06", "OUT_OF_MEMORY", "csttool was killed by SIGKILL that cst-batch did not send"],
  ];
  const successKeys = Array.from({ length: successCount }, (_, i) => `sub-s${String(i + 1).padStart(3, "0")}`);
  const pendingKeys = ["sub-p01", "sub-p02"];
  const specs = [...successKeys, ...failures.map((f) => f[0]), ...pendingKeys].map((subject) => ({ subject }));
  const plan = writePlan(out, specs);
  const byKey = new Map(plan.tasks.map((t) => [t.key, t]));
  const rnd = gen(42);
  const outlierKey = successKeys[7] as string;

  for (const key of successKeys) {
    const task = byKey.get(key)!;
    const spec = fullMetricsSpec();
    let left = 0.5 + 0.02 * rnd();
    const right = 0.5 + 0.02 * rnd();
    if (key === outlierKey) left = 0.78;
    spec.left!.scalars!.fa!.mean = left;
    spec.right!.scalars!.fa!.mean = right;
    spec.asymmetry!.fa = (left - right) / (left + right);
    spec.asymmetry!.volume = 0.03 * rnd();
    spec.asymmetry!.streamline_count = 0.05 * rnd();
    spec.asymmetry!.md = 0.01 * rnd();
    const metricsFile = writeMetricsReports(out, task, metricsJsonText({ ...spec, subjectId: key }));
    const duration = 1800 + 600 * rnd() + (key === successKeys[0] ? 3000 : 0);
    writeDone(out, task, { metricsFile, durationSeconds: duration, maxRssKb: Math.round(3_000_000 + 400_000 * rnd()) });
    // csttool's own HTML report, listed among the promoted files as run-one records them.
    const html = path.join("reports", `${key}_report.html`);
    mkdirSync(path.join(out, task.output_dir, "reports"), { recursive: true });
    writeFileSync(path.join(out, task.output_dir, html), `<html><body><h1>csttool report ${key}</h1></body></html>`);
    const doneFile = path.join(out, task.output_dir, DONE_FILE);
    const done = JSON.parse(readFileSync(doneFile, "utf8")) as { files: { path: string; size: number }[] };
    done.files.push({ path: html, size: 60 }, { path: metricsFile, size: 100 });
    writeFileSync(doneFile, JSON.stringify(done, null, 2));
    writeLogs(out, task, false);
  }
  for (const [key, category, message] of failures) {
    const task = byKey.get(key)!;
    writeFailedAttempt(out, task, { category, message, logTail: ["Traceback (most recent call last):", `  ${message}`], durationSeconds: category === "TIMEOUT" ? 7200 : 300, maxRssKb: category === "OUT_OF_MEMORY" ? 15_800_000 : 2_000_000 });
    writeLogs(out, task, true);
    writeFileSync(path.join(out, "logs", `${key}.log`), `2026-01-03T09:00:00.000Z err| ${message}\n`);
  }
  return {
    total: specs.length,
    success: successKeys.length,
    failed: failures.map(([key, category]) => ({ key, category })),
    pending: pendingKeys.length,
    outlierKey,
    hostileKey: "sub-f01",
  };
}
