import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ARGPARSE_NEXT_STEP,
  ATLAS_NEXT_STEP,
  ENVIRONMENT_NEXT_STEP,
  argparseRejection,
  explainNoMetrics,
  findPipelineReports,
  summarisePipelineReport,
} from "../../../src/run/csttool-outcome.js";
import { classify } from "../../../src/run/run-one.js";
import type { SuperviseResult } from "../../../src/run/supervise.js";

/** Telling why csttool failed from what it left: pipeline report, nothing at all, argparse's exit 2. */

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "cst-outcome-"));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** csttool 0.5.0's pipeline report after a failed extract (the shape of cli/utils.py save_pipeline_report). */
const REAL_REPORT = {
  subject_id: "01",
  pipeline_version: "0.5.0",
  execution: { start_time: "2026-11-20T10:00:00", end_time: "2026-11-20T10:00:51", total_seconds: 50.8, success: false },
  step_times: { check: 0.4, import: 1.2, preprocess: 0.0, track: 20.1 },
  failed_steps: ["extract"],
  step_results: {
    check: { success: true, error: null },
    import: { success: true, error: null },
    track: { success: true, error: null },
    extract: { success: false, error: "CST extraction failed" },
  },
};

function exited(exitCode: number, logTail: string[]): SuperviseResult {
  return { exitCode, signal: null, reason: "exited", durationMs: 10, maxRssKb: null,
    maxRssSource: null, logTail, pgid: 1, survivors: [] };
}

describe("argparse rejections", () => {
  const tail = [
    "usage: csttool run [-h] [--dicom DICOM] [--nifti NIFTI] --out OUT",
    "csttool run: error: argument --denoise-method: invalid choice: 'mppca' (choose from 'patch2self', 'nlmeans')",
    "csttool exited with status 2 after 7.9 s", // supervise's own closing note
  ];

  it("exit 2 with argparse's usage/error lines is VALIDATION quoting the last line, with its own next step", () => {
    const c = classify(exited(2, tail), "csttool", 60, null);
    expect(c).toEqual({
      category: "VALIDATION",
      message: "csttool rejected its arguments: csttool run: error: argument --denoise-method: invalid choice: 'mppca' (choose from 'patch2self', 'nlmeans')",
      nextStep: ARGPARSE_NEXT_STEP,
    });
  });

  it("other non-zero exits stay PIPELINE_FAILED", () => {
    expect(classify(exited(1, tail), "csttool", 60, null)?.category).toBe("PIPELINE_FAILED");
    expect(classify(exited(2, ["Traceback (most recent call last):", "ValueError: bad"]), "csttool", 60, null)?.category).toBe("PIPELINE_FAILED");
    expect(argparseRejection(2, [])).toBeNull();
    expect(classify(exited(0, tail), "csttool", 60, null)).toBeNull();
  });
});

describe("the pipeline report", () => {
  it("summarises failed_steps and each failed step's error", () => {
    expect(summarisePipelineReport(REAL_REPORT)).toEqual({ success: false, failedSteps: ["extract"], errors: [{ step: "extract", error: "CST extraction failed" }] });
    expect(summarisePipelineReport({ subject: "sub-01", steps: [] })).toBeNull();
  });

  it("is found under any prefix, at the root first", () => {
    expect(findPipelineReports([{ path: "extraction/x_pipeline_report.json" }, { path: "01_pipeline_report.json" }, { path: "reports/a.json" }])).toEqual([
      "01_pipeline_report.json",
      "extraction/x_pipeline_report.json",
    ]);
  });

  it("exit 0 without metrics: the message quotes failed_steps and the errors; the atlas hint when the log names it", async () => {
    const dir = path.join(tmp, "report");
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, "01_pipeline_report.json"), JSON.stringify(REAL_REPORT, null, 2).replace("50.8", "NaN"));
    const files = [{ path: "01_pipeline_report.json" }, { path: "tracking/tractograms/01_whole_brain.trk" }];
    const plain = await explainNoMetrics(dir, files, "sub-01/reports/*_metrics.json", []);
    expect(plain.message).toContain("failed_steps extract (extract: CST extraction failed)");
    expect(plain.message).toContain("01_pipeline_report.json");
    expect(plain.nextStep).toBeNull();
    const atlas = await explainNoMetrics(dir, files, "sub-01/reports/*_metrics.json", ["  ✗ Warping atlases failed: Harvard-Oxford cortical atlas (1mm) not found."]);
    expect(atlas.nextStep).toBe(ATLAS_NEXT_STEP);
  });

  it("exit 0 with nothing written points at csttool's environment check", async () => {
    const r = await explainNoMetrics(path.join(tmp, "empty"), [], "sub-01/reports/*_metrics.json", ["✗ Environment check failed. Fix dependencies and retry."]);
    expect(r.message).toContain("csttool wrote nothing");
    expect(r.message).toContain("csttool doctor");
    expect(r.nextStep).toBe(ENVIRONMENT_NEXT_STEP);
  });
});
