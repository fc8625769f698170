import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ARGPARSE_NEXT_STEP,
  argparseRejection,
  explainNoMetrics,
  findPipelineReports,
  summarisePipelineReport,
} from "../../../src/run/csttool-outcome.js";
import { classify } from "../../../src/run/run-one.js";
import { findCsttoolCause, nextStepForCause } from "../../../src/failures/csttool-causes.js";
import type { StudyRef } from "../../../src/failures/catalogue.js";

const STUDY: StudyRef = { out: "/data/out", local: false };
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

  it("exit 0 without metrics: the message quotes failed_steps and the errors; with csttool's atlas line it is SYSTEM with that line and the fetch-data step", async () => {
    const dir = path.join(tmp, "report");
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, "01_pipeline_report.json"), JSON.stringify(REAL_REPORT, null, 2).replace("50.8", "NaN"));
    const files = [{ path: "01_pipeline_report.json" }, { path: "tracking/tractograms/01_whole_brain.trk" }];
    const plain = await explainNoMetrics(dir, files, "sub-01/reports/*_metrics.json", [], STUDY);
    expect(plain.category).toBe("PIPELINE_FAILED");
    expect(plain.message).toContain("failed_steps extract (extract: CST extraction failed)");
    expect(plain.message).toContain("01_pipeline_report.json");
    expect(plain.nextStep).toBeNull();
    const line = "✗ Warping atlases failed: Harvard-Oxford cortical atlas (1mm) not found.";
    const atlas = await explainNoMetrics(dir, files, "sub-01/reports/*_metrics.json", [`  ${line}`], STUDY);
    expect(atlas.category).toBe("SYSTEM");
    expect(atlas.message).toContain(line);
    expect(atlas.message).toContain("failed_steps extract");
    expect(atlas.nextStep).toContain("csttool fetch-data --accept-fsl-license");
  });

  it("exit 0 with nothing written is SYSTEM: csttool's environment check, its own reason quoted when printed", async () => {
    const bare = await explainNoMetrics(path.join(tmp, "empty"), [], "sub-01/reports/*_metrics.json", [], STUDY);
    expect(bare.category).toBe("SYSTEM");
    expect(bare.message).toContain("csttool wrote nothing");
    expect(bare.nextStep).toContain("csttool doctor");
    const why = "✗ User data dir: not writable ([Errno 13] Permission denied: '/home/u/.local/share/csttool')";
    const r = await explainNoMetrics(path.join(tmp, "empty"), [], "sub-01/reports/*_metrics.json", [`  ${why}`, "  ✗ Environment check failed. Fix dependencies and retry."], STUDY);
    expect(r.category).toBe("SYSTEM");
    expect(r.message).toContain(why);
    expect(r.message).toContain("csttool wrote nothing");
    expect(r.nextStep).toContain("csttool doctor");
  });
});

describe("csttool's cause lines (csttool 0.5.0's own wording)", () => {
  const cases: { name: string; lines: string[]; category: string; line: string; step: RegExp }[] = [
    {
      name: "a missing atlas",
      lines: ["  ✗ Warping atlases failed: Harvard-Oxford subcortical atlas (1mm) not found.", "  ✗ CST extraction failed: CST extraction failed or produced no streamlines"],
      category: "SYSTEM",
      line: "✗ Warping atlases failed: Harvard-Oxford subcortical atlas (1mm) not found.",
      step: /fetch-data --accept-fsl-license/,
    },
    {
      name: "an atlas that fails csttool's checksum",
      lines: ["  ✗ Warping atlases failed: Checksum verification failed for HarvardOxford-cort-maxprob-thr25-1mm.nii.gz."],
      category: "SYSTEM",
      line: "✗ Warping atlases failed: Checksum verification failed for HarvardOxford-cort-maxprob-thr25-1mm.nii.gz.",
      step: /fetch-data --accept-fsl-license/,
    },
    {
      name: "numpy out of memory",
      lines: ["  ✗ Tensor fitting failed: Unable to allocate 3.52 GiB for an array with shape (96, 96, 60, 64, 4) and data type float64", "  ✗ Tracking failed: Tracking failed"],
      category: "OUT_OF_MEMORY",
      line: "✗ Tensor fitting failed: Unable to allocate 3.52 GiB for an array with shape (96, 96, 60, 64, 4) and data type float64",
      step: /--mem-factor 1\.5/,
    },
    {
      name: "a truncated input",
      lines: ["  ✗ Error loading NIfTI: Compressed file ended before the end-of-stream marker was reached", "  ✗ Tracking failed: Tracking failed"],
      category: "INPUT_MISSING",
      line: "✗ Error loading NIfTI: Compressed file ended before the end-of-stream marker was reached",
      step: /^$/,
    },
    {
      name: "one hemisphere without streamlines (what the real csttool prints)",
      lines: ["  Left CST:       866 streamlines", "  Right CST:      0 streamlines", "  Total:          866 streamlines", "  ✗ Metrics failed: No CST tractograms available"],
      category: "PIPELINE_FAILED",
      line: "Right CST:      0 streamlines; ✗ Metrics failed: No CST tractograms available",
      step: /right hemisphere/,
    },
    {
      name: "a hemisphere csttool could not analyze",
      lines: ["  ✗ Failed to analyze right CST: boom", "  ✗ Metrics failed: Metrics computation failed"],
      category: "PIPELINE_FAILED",
      line: "✗ Failed to analyze right CST: boom",
      step: /right hemisphere/,
    },
  ];
  for (const c of cases) {
    it(`${c.name} is ${c.category} with csttool's line`, () => {
      const cause = findCsttoolCause(c.lines);
      expect(cause?.category).toBe(c.category);
      expect(cause?.line).toBe(c.line);
      expect(nextStepForCause(cause!, STUDY) ?? "").toMatch(c.step);
    });
  }

  it("a MemoryError traceback (exit 1) is OUT_OF_MEMORY, with a --jobs hint in local mode", () => {
    const r = classify(
      { reason: "exited", exitCode: 1, signal: null, logTail: ["Traceback (most recent call last):", '  File "run.py", line 470, in cmd_run', "MemoryError"], durationMs: 1, maxRssKb: null } as unknown as SuperviseResult,
      "csttool",
      60,
      null,
      { out: "/o", local: true },
    );
    expect(r?.category).toBe("OUT_OF_MEMORY");
    expect(r?.message).toContain('"MemoryError"');
    expect(r?.nextStep).toContain("--jobs");
  });

  it("an unrecognised step failure names no cause", () => {
    expect(findCsttoolCause(["  ✗ Registration failed: Static image size is too small"])).toBeNull();
  });
});
