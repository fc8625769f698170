import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EXIT } from "../../src/errors.js";
import { parseCsv, readJson, REPO, runCli, tempDir } from "../helpers/cli.js";
import { requireSlurmOrSkip } from "../helpers/slurm-env.js";
import { waitForSlurmJobsGone } from "../helpers/slurm-wait.js";

/*
 * The real csttool (build/csttool-venv, made by scripts/csttool-venv.sh) over a synthetic study
 * (scripts/make-phantom-dataset.py): two NIfTI subjects, one with two sessions, and one DICOM
 * subject. csttool is reached through a wrapper that logs its argv, then execs it.
 *
 * Success path: csttool's extract step needs FSL's atlas data, which needs the network and a
 * licence. The tests give csttool a SYNTHETIC, ANATOMICALLY MEANINGLESS test atlas instead
 * (test/csttool/fixtures/make-synthetic-atlas.py: two label slabs at the file names csttool
 * loads, with csttool's own validation stamp) in a test-only XDG_DATA_HOME, never the user's
 * data folder. Every task must then succeed.
 * Failure path: a second, empty XDG_DATA_HOME (no atlas): refused at plan time, and with
 * --allow-missing-atlas a subject fails at extract with the atlas named.
 *
 * Skipped (with a message) only when CI is unset and the venv is absent; under CI a missing
 * venv fails the run.
 *
 * Over 350 lines on purpose: one file holds every real-csttool run (each describe is one study,
 * minutes of CPU) so they share the phantom/atlas helpers and run one after another, never
 * beside each other on a 2-core machine. The Slurm describe runs only where Slurm is usable
 * (hold /tmp/cst-slurm.lock on the shared machine).
 */

const VENV = process.env.CSTTOOL_VENV ?? path.join(REPO, "build", "csttool-venv");
const CSTTOOL = path.join(VENV, "bin", "csttool");
const PYTHON = path.join(VENV, "bin", "python");
const WRAPPER = path.join(REPO, "test", "csttool", "fixtures", "csttool-argv-logger");
const PHANTOM = path.join(REPO, "scripts", "make-phantom-dataset.py");
const SYNTHETIC_ATLAS = path.join(REPO, "test", "csttool", "fixtures", "make-synthetic-atlas.py");
const HAVE_VENV = existsSync(CSTTOOL) && existsSync(PYTHON);
const IN_CI = Boolean(process.env.CI);

if (!HAVE_VENV && !IN_CI) {
  console.warn(`skipping the real-csttool tests: ${CSTTOOL} is missing (run: bash scripts/csttool-venv.sh)`);
}

interface Task {
  key: string;
  subject: string;
  session: string | null;
  kind: "nifti" | "dicom";
}

const TASKS: Task[] = [
  { key: "sub-01_ses-01", subject: "sub-01", session: "ses-01", kind: "nifti" },
  { key: "sub-01_ses-02", subject: "sub-01", session: "ses-02", kind: "nifti" },
  { key: "sub-02", subject: "sub-02", session: null, kind: "nifti" },
  { key: "sub-03", subject: "sub-03", session: null, kind: "dicom" },
];

const label = (id: string) => id.replace(/^(sub|ses)-/, "");
const taskDir = (out: string, t: Task) => path.join(out, t.subject, ...(t.session ? [t.session] : []));

/** Every file under dir (relative, sorted). */
function walk(dir: string, rel = ""): string[] {
  if (!existsSync(path.join(dir, rel))) return [];
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(dir, path.join(rel, e.name)) : [path.join(rel, e.name)]))
    .sort();
}

/** csttool's JSON (Python's json.dump may write NaN / Infinity, which JSON.parse rejects). */
function readPythonJson(file: string): any {
  return JSON.parse(readFileSync(file, "utf8").replace(/\b-?(NaN|Infinity)\b/g, "null"));
}

function csvObjects(text: string): Record<string, string>[] {
  const [head, ...rows] = parseCsv(text).filter((r) => r.length > 1);
  return rows.map((r) => Object.fromEntries(head!.map((h, i) => [h, r[i] ?? ""])));
}

/** csttool's own verdict for a task: its pipeline report, wherever cst-batch kept it. */
function pipelineReportIn(out: string, t: Task): { file: string; report: any } {
  const base = taskDir(out, t);
  const name = `${label(t.subject)}_pipeline_report.json`; // csttool names it after --subject-id as given
  const hits = walk(base).filter((f) => path.basename(f) === name);
  expect(hits, `${name} under ${base}`).toHaveLength(1);
  const file = path.join(base, hits[0]!);
  return { file, report: readPythonJson(file) };
}

/** The files csttool writes for the whole derivative dataset: never promoted into a subject folder. */
const STUDY_LEVEL = ["dataset_description.json", "participants.tsv", "participants.json", "participants.tsv.lock"];

/** Every task succeeded (as csttool's own pipeline report says) and its results are at their documented paths. */
function expectAllSucceeded(out: string, version: string): void {
  for (const t of TASKS) {
    const base = taskDir(out, t);
    const { report } = pipelineReportIn(out, t);
    expect(report.pipeline_version).toBe(version);
    expect(report.execution.success, `${t.key}: csttool's pipeline report (failed_steps ${JSON.stringify(report.failed_steps)})`).toBe(true);
    expect(report.failed_steps).toEqual([]);
    const done = readJson(path.join(base, "_done.json"));
    expect(done.kind).toBe("cst-batch-done");
    expect(done.exit_code).toBe(0);
    expect(done.csttool_version).toBe(version);
    const prefix = t.session ? `${t.subject}_${t.session}` : t.subject;
    expect(done.metrics_file).toBe(`reports/${prefix}_metrics.json`);
    const files = walk(base);
    const expected = [
      `reports/${prefix}_metrics.json`,
      `reports/${prefix}_metrics.csv`,
      `dwi/${prefix}_space-orig_desc-preproc_dwi.nii.gz`,
      ...["FA", "MD", "RD", "AD"].map((p) => `dwi/${prefix}_space-orig_model-DTI_param-${p}_dwimap.nii.gz`),
      ...["wholebrain", "CSTleft", "CSTright"].map((d) => `dwi/tractography/${prefix}_space-orig_desc-${d}_tractogram.trk`),
    ];
    for (const f of expected) {
      expect(files, `${t.key}: ${f}`).toContain(f);
      expect(statSync(path.join(base, f)).size, `${t.key}: ${f} is not empty`).toBeGreaterThan(0);
    }
    // _done.json lists exactly what was promoted
    expect((done.files as { path: string }[]).map((f) => f.path).sort()).toEqual(files.filter((f) => !/^(_done\.json|_promoted\.json|_lock)$/.test(f)).sort());
    for (const f of STUDY_LEVEL) expect(files, `${t.key}: study-level ${f} not promoted`).not.toContain(f);
    expect(existsSync(path.join(base, "_work"))).toBe(false);
    expect(existsSync(path.join(base, "_failed_attempts"))).toBe(false);
  }
}

const describeReal = HAVE_VENV || IN_CI ? describe : describe.skip;

/** A test-only XDG_DATA_HOME holding the synthetic (anatomically meaningless) atlas. */
function syntheticAtlasHome(dir: string, flags: string[] = []): string {
  const home = path.join(dir, `xdg-data-synthetic-atlas${flags.join("")}`);
  const made = spawnSync(PYTHON, [SYNTHETIC_ATLAS, home, ...flags], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`make-synthetic-atlas.py failed: ${made.stderr}`);
  return home;
}

describeReal("the real csttool over the phantom study with a synthetic test atlas (cst-batch submit --scheduler local)", () => {
  const dir = tempDir("cst-real-");
  const bids = path.join(dir, "bids");
  const out = path.join(dir, "out");
  const argvLog = path.join(dir, "argv.jsonl");
  let atlasHome: string;
  let submit: ReturnType<typeof runCli>;
  let version: string;

  beforeAll(() => {
    if (!HAVE_VENV) {
      throw new Error(`CI is set but the csttool venv is missing (${CSTTOOL}): run bash scripts/csttool-venv.sh before the tests`);
    }
    const v = spawnSync(CSTTOOL, ["--version"], { encoding: "utf8" });
    version = /(\d+\.\d+\.\d+)/.exec(`${v.stdout}${v.stderr}`)?.[1] ?? "?";
    const made = spawnSync(PYTHON, [PHANTOM, bids], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`make-phantom-dataset.py failed: ${made.stderr}`);
    atlasHome = syntheticAtlasHome(dir);
    submit = runCli(
      ["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", WRAPPER, "--jobs", "2"],
      { env: { CSTTOOL_REAL: CSTTOOL, CSTTOOL_ARGV_LOG: argvLog, CSTTOOL_PYTHON: PYTHON, XDG_DATA_HOME: atlasHome }, timeoutMs: 40 * 60_000 },
    );
  }, 45 * 60_000);

  const pipelineReport = (t: Task) => pipelineReportIn(out, t);

  it("the synthetic atlas is labelled as test data and lives only in the test's XDG_DATA_HOME", () => {
    expect(readFileSync(path.join(atlasHome, "csttool", "SYNTHETIC-TEST-ATLAS-NOT-FSL.txt"), "utf8")).toMatch(/ANATOMICALLY MEANINGLESS/);
    expect(atlasHome.startsWith(dir)).toBe(true);
  });

  it("submit ran every task to success and did not crash", () => {
    expect(submit.signal).toBeNull();
    expect(submit.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(submit.code, submit.stdout + submit.stderr).toBe(EXIT.OK);
  });

  it("csttool received `run`, the input cst-batch found, its own --out and the bare labels", () => {
    const calls = readFileSync(argvLog, "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]);
    // Plan time: `--version` and `run --help` (capabilities), in parallel, so in either order.
    expect(calls.slice(0, 2)).toEqual(expect.arrayContaining([["--version"], ["run", "--help"]]));
    const runs = calls.filter((c) => c[0] === "run" && !c.includes("--help"));
    expect(runs).toHaveLength(TASKS.length);
    for (const t of TASKS) {
      const input =
        t.kind === "nifti"
          ? ["--nifti", path.join(bids, t.subject, ...(t.session ? [t.session] : []), "dwi", `${t.key}_dwi.nii.gz`)]
          : ["--dicom", path.join(bids, t.subject, "dicom")];
      const expected = [
        "run",
        ...input,
        "--out",
        path.join(taskDir(out, t), "_work", "csttool"),
        "--subject-id",
        label(t.subject),
        ...(t.session ? ["--session-id", label(t.session)] : []),
      ];
      expect(runs).toContainEqual(expected);
    }
  });

  it("every task succeeded: _done.json, tractograms, DTI maps and metrics at their documented paths, study-level files not promoted", () => {
    expectAllSucceeded(out, version);
  });

  it("the DICOM subject was converted by csttool's own import step, and the converted series was promoted as the subject's DWI", () => {
    const t = TASKS.find((x) => x.kind === "dicom")!;
    const { report } = pipelineReport(t);
    expect(report.step_results.import.success).toBe(true);
    // csttool converts to <--out>/nifti/<subject-id>.nii.gz, then (on success) moves that file
    // into its BIDS tree as dwi/<sub>_space-orig_desc-preproc_dwi.nii.gz; the import logs stay in nifti/.
    const files = walk(taskDir(out, t));
    expect(files).not.toContain(`nifti/${label(t.subject)}.nii.gz`);
    expect(files).toContain(`nifti/${label(t.subject)}_import_report.json`);
    expect(files).toContain(`dwi/${t.subject}_space-orig_desc-preproc_dwi.nii.gz`);
  });

  it("collect's CSV has one row per task, and each task's numbers equal csttool's own per-subject CSV", () => {
    const rows = csvObjects(readFileSync(path.join(out, "batch_metrics.csv"), "utf8"));
    expect(rows.map((r) => `${r.subject_id}_${r.session_id}`.replace(/_$/, "")).sort()).toEqual(TASKS.map((t) => t.key).sort());
    for (const t of TASKS) {
      const row = rows.find((r) => r.subject_id === t.subject && (r.session_id || null) === t.session)!;
      expect(row.status).toBe("success");
      const prefix = t.session ? `${t.subject}_${t.session}` : t.subject;
      const own = csvObjects(readFileSync(path.join(taskDir(out, t), "reports", `${prefix}_metrics.csv`), "utf8"))[0]!;
      let compared = 0;
      for (const [col, value] of Object.entries(own)) {
        if (col === "subject_id" || col === "processing_date") continue;
        expect(col in row, `column ${col} of csttool's CSV is in batch_metrics.csv`).toBe(true);
        // csttool's CSV writes a missing regional value as 0.0; batch_metrics.csv (from the JSON) leaves it empty
        if (row[col] === "" && Number(value) === 0) continue;
        expect(Number(row[col]), `${t.key} ${col}`).toBeCloseTo(Number(value), 9);
        compared++;
      }
      expect(compared, `${t.key}: numbers compared`).toBeGreaterThan(20);
      expect(Number(row.left_n_streamlines)).toBeGreaterThan(0);
      expect(Number(row.right_n_streamlines)).toBeGreaterThan(0);
    }
  });

  it("the study report has a filled row for every task: success, duration, memory and csttool's FA figures", () => {
    const html = readFileSync(path.join(out, "batch_report.html"), "utf8");
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as { cols: string[]; rows: unknown[][] };
    const col = (name: string): number => data.cols.indexOf(name);
    const csv = csvObjects(readFileSync(path.join(out, "batch_metrics.csv"), "utf8"));
    expect(data.rows.map((r) => r[0]).sort()).toEqual(TASKS.map((t) => t.key).sort());
    for (const r of data.rows) {
      const t = TASKS.find((x) => x.key === r[0])!;
      expect(r[col("status")]).toBe("success");
      expect(r[col("error")]).toBeNull();
      expect(r[col("duration_s")] as number).toBeGreaterThan(0);
      expect(r[col("max_rss_mb")] as number).toBeGreaterThan(100);
      const own = csv.find((c) => c.subject_id === t.subject && (c.session_id || null) === t.session)!;
      expect(r[col("left_fa_mean")]).toBeCloseTo(Number(own.left_fa_mean), 9);
      expect(r[col("right_fa_mean")]).toBeCloseTo(Number(own.right_fa_mean), 9);
    }
  });

  it("an option value csttool 0.5.0 rejects (--denoise-method mppca) is refused at plan time, before any subject runs", () => {
    // csttool run's --denoise-method accepts only patch2self | nlmeans (argparse exits 2 otherwise).
    const r = runCli([
      "submit", "--dry-run", "--scheduler", "local", "--bids-dir", bids, "--out", path.join(dir, "out-mppca"),
      "--csttool", CSTTOOL, "--preprocess", "--denoise-method", "mppca",
    ]);
    // A preflight problem (from `csttool run --help`), not a usage error: mppca stays in
    // cst-batch's own schema because the contract note documents it.
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toContain("csttool 0.5.0 accepts --denoise-method patch2self or nlmeans; mppca is not available in this version");
  });
});

describeReal("the real csttool without atlas data (a second, empty XDG_DATA_HOME)", () => {
  const dir = tempDir("cst-real-noatlas-");
  const bids = path.join(dir, "bids");
  const out = path.join(dir, "out");
  const emptyDataHome = path.join(dir, "xdg-data-empty");
  const env = (): Record<string, string> => ({ CSTTOOL_REAL: CSTTOOL, CSTTOOL_PYTHON: PYTHON, XDG_DATA_HOME: emptyDataHome });
  let refused: ReturnType<typeof runCli>;
  let allowed: ReturnType<typeof runCli>;
  let version: string;

  beforeAll(() => {
    if (!HAVE_VENV) throw new Error(`CI is set but the csttool venv is missing (${CSTTOOL}): run bash scripts/csttool-venv.sh before the tests`);
    const v = spawnSync(CSTTOOL, ["--version"], { encoding: "utf8" });
    version = /(\d+\.\d+\.\d+)/.exec(`${v.stdout}${v.stderr}`)?.[1] ?? "?";
    const made = spawnSync(PYTHON, [PHANTOM, bids], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`make-phantom-dataset.py failed: ${made.stderr}`);
    refused = runCli(["plan", "--bids-dir", bids, "--out", path.join(dir, "out-refused"), "--csttool", WRAPPER, "--json"], { env: env() });
    // One subject only: the real csttool is CPU-heavy, and the failure is the same for all.
    allowed = runCli(
      ["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", WRAPPER, "--jobs", "1", "--include", "sub-02", "--allow-missing-atlas"],
      { env: env(), timeoutMs: 20 * 60_000 },
    );
  }, 25 * 60_000);

  it("the plan is refused before any subject runs, naming both atlas files and `csttool fetch-data --accept-fsl-license`", () => {
    expect(refused.code).toBe(EXIT.PREFLIGHT);
    const text = refused.stdout + refused.stderr;
    expect(text).toContain(path.join(emptyDataHome, "csttool", "harvard_oxford", "HarvardOxford-cort-maxprob-thr25-1mm.nii.gz"));
    expect(text).toContain(path.join(emptyDataHome, "csttool", "harvard_oxford", "HarvardOxford-sub-maxprob-thr25-1mm.nii.gz"));
    expect(text).toContain("csttool fetch-data --accept-fsl-license");
    expect(existsSync(path.join(dir, "out-refused", ".cst-batch"))).toBe(false);
  });

  it("with --allow-missing-atlas the subject runs and fails at extract: SYSTEM (a study-wide cause) with csttool's atlas line and the fetch-data next step", () => {
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(EXIT.SUBJECT_FAILED);
    const t = TASKS.find((x) => x.key === "sub-02")!;
    const base = taskDir(out, t);
    expect(existsSync(path.join(base, "_done.json"))).toBe(false);
    const attempts = readdirSync(path.join(base, "_failed_attempts"));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatch(/_SYSTEM$/);
    const attemptDir = path.join(base, "_failed_attempts", attempts[0]!);
    const rec = readJson(path.join(attemptDir, "attempt.json"));
    expect(rec.category).toBe("SYSTEM");
    expect(rec.exit_code).toBe(0);
    expect(rec.csttool_version).toBe(version);
    expect(rec.csttool_argv[0]).toBe(WRAPPER);
    expect(rec.message).toContain("failed_steps extract");
    expect(rec.message).toContain("✗ Warping atlases failed: Harvard-Oxford cortical atlas (1mm) not found.");
    expect(rec.next_step).toContain("csttool fetch-data --accept-fsl-license");
    expect(statSync(path.join(attemptDir, "csttool.log")).size).toBeGreaterThan(0);
    const { file, report } = pipelineReportIn(out, t);
    expect(file.startsWith(attemptDir)).toBe(true);
    expect(report.failed_steps).toEqual(["extract"]);
  });

  it("status shows csttool's cause line for the failed subject", () => {
    const st = runCli(["status", "--out", out, "--json"]);
    expect(st.stdout).toContain("Harvard-Oxford cortical atlas (1mm) not found");
  });
});

describeReal("the real csttool's own failures, diagnosed from its lines (fast ones: it stops within seconds)", () => {
  const dir = tempDir("cst-real-fail-");
  const bids = path.join(dir, "bids");
  let atlasHome: string;
  let corrupt: ReturnType<typeof runCli>;
  let envCheck: ReturnType<typeof runCli>;
  const notADir = path.join(dir, "cache-is-a-file");

  beforeAll(() => {
    if (!HAVE_VENV) throw new Error(`CI is set but the csttool venv is missing (${CSTTOOL}): run bash scripts/csttool-venv.sh before the tests`);
    const made = spawnSync(PYTHON, [PHANTOM, bids], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`make-phantom-dataset.py failed: ${made.stderr}`);
    atlasHome = syntheticAtlasHome(dir);
    // a truncated download: the first 300 kB of sub-02's gzip
    const nifti = path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz");
    writeFileSync(nifti, readFileSync(nifti).subarray(0, 300_000));
    writeFileSync(notADir, "not a folder\n");
    const env = { CSTTOOL_REAL: CSTTOOL, CSTTOOL_PYTHON: PYTHON, XDG_DATA_HOME: atlasHome };
    corrupt = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", path.join(dir, "out-corrupt"), "--csttool", WRAPPER, "--include", "sub-02"], {
      env,
      timeoutMs: 10 * 60_000,
    });
    envCheck = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", path.join(dir, "out-env"), "--csttool", WRAPPER, "--include", "sub-01"], {
      env: { ...env, XDG_CACHE_HOME: notADir },
      timeoutMs: 10 * 60_000,
    });
  }, 25 * 60_000);

  const only = (out: string, rel: string): Record<string, any> => {
    const base = path.join(out, rel);
    const attempts = readdirSync(path.join(base, "_failed_attempts"));
    expect(attempts).toHaveLength(1);
    return readJson(path.join(base, "_failed_attempts", attempts[0]!, "attempt.json"));
  };

  it("a truncated input NIfTI is INPUT_MISSING with csttool's gzip error quoted, not its generic `Tracking failed`", () => {
    expect(corrupt.code, corrupt.stdout + corrupt.stderr).toBe(EXIT.SUBJECT_FAILED);
    const rec = only(path.join(dir, "out-corrupt"), "sub-02");
    expect(rec.category).toBe("INPUT_MISSING");
    expect(rec.exit_code).toBe(0);
    expect(rec.message).toContain("✗ Error loading NIfTI: Compressed file ended before the end-of-stream marker was reached");
    expect(rec.message).toContain("failed_steps track");
  });

  it("an unwritable csttool cache folder fails csttool's environment check: SYSTEM with its own reason, next step `csttool doctor`", () => {
    const rec = only(path.join(dir, "out-env"), "sub-01/ses-01");
    expect(rec.category).toBe("SYSTEM");
    expect(rec.exit_code).toBe(0);
    expect(rec.message).toContain(`✗ Cache dir: not writable ([Errno 20] Not a directory: '${path.join(notADir, "csttool")}')`);
    expect(rec.next_step).toContain("csttool doctor");
    // both sessions failed alike, fewer than the canary's 3: nothing was held back
    expect(envCheck.stderr).not.toContain("canary:");
    expect(readdirSync(path.join(dir, "out-env", "sub-01", "ses-02", "_failed_attempts"))).toHaveLength(1);
  });
});

describeReal("the canary with the real csttool: an unwritable cache folder stops a local run after K subjects", () => {
  const dir = tempDir("cst-real-canary-");
  const bids = path.join(dir, "bids");
  const out = path.join(dir, "out");
  const notADir = path.join(dir, "cache-is-a-file");
  let r: ReturnType<typeof runCli>;

  beforeAll(() => {
    if (!HAVE_VENV) throw new Error(`CI is set but the csttool venv is missing (${CSTTOOL}): run bash scripts/csttool-venv.sh before the tests`);
    const made = spawnSync(PYTHON, [PHANTOM, bids], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`make-phantom-dataset.py failed: ${made.stderr}`);
    writeFileSync(notADir, "not a folder\n");
    // The environment check fails before any step: the atlas is never reached.
    r = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", WRAPPER, "--jobs", "1", "--canary", "1", "--allow-missing-atlas"], {
      env: { CSTTOOL_REAL: CSTTOOL, CSTTOOL_PYTHON: PYTHON, XDG_CACHE_HOME: notADir, CSTTOOL_ARGV_LOG: path.join(dir, "argv.jsonl") },
      timeoutMs: 10 * 60_000,
    });
  }, 12 * 60_000);

  it("--canary 1 --jobs 1: K + jobs - 1 = 1 of the 4 tasks runs csttool, the rest are not run (not failed), status names the verdict and the fix", () => {
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.SYSTEM);
    expect(r.stderr).toContain("canary:");
    const st = runCli(["status", "--out", out, "--json"]);
    expect(st.code, st.stderr).toBe(0);
    const j = JSON.parse(st.stdout);
    const failed = j.tasks.filter((t: { state: string }) => t.state === "failed");
    expect(failed).toHaveLength(1);
    for (const t of failed) expect(t.category).toBe("SYSTEM");
    expect(j.totals).toMatchObject({ total: 4, done: 0, "not-run": 4 - failed.length });
    expect(j.canary.message).toContain(`✗ Cache dir: not writable ([Errno 20] Not a directory: '${path.join(notADir, "csttool")}')`);
    expect(j.canary.next_step).toContain(`cst-batch resubmit --out ${out}`);
    // csttool itself ran exactly for the failed tasks
    const runs = readFileSync(path.join(dir, "argv.jsonl"), "utf8").split("\n").filter((l) => l.startsWith('["run"') && !l.includes('"--help"'));
    expect(runs).toHaveLength(failed.length);
  });
});

describeReal("the real csttool finding no left CST (a synthetic test atlas without a left motor ROI)", () => {
  const dir = tempDir("cst-real-hemi-");
  const bids = path.join(dir, "bids");
  const out = path.join(dir, "out");
  let r: ReturnType<typeof runCli>;

  beforeAll(() => {
    if (!HAVE_VENV) throw new Error(`CI is set but the csttool venv is missing (${CSTTOOL}): run bash scripts/csttool-venv.sh before the tests`);
    const made = spawnSync(PYTHON, [PHANTOM, bids], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`make-phantom-dataset.py failed: ${made.stderr}`);
    const atlasHome = syntheticAtlasHome(dir, ["--no-left-motor"]);
    r = runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", WRAPPER, "--include", "sub-02"], {
      env: { CSTTOOL_REAL: CSTTOOL, CSTTOOL_PYTHON: PYTHON, XDG_DATA_HOME: atlasHome },
      timeoutMs: 20 * 60_000,
    });
  }, 25 * 60_000);

  it("is PIPELINE_FAILED naming the left side and that csttool dropped both sides' metrics; the right tract is kept", () => {
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.SUBJECT_FAILED);
    const base = path.join(out, "sub-02");
    const attempts = readdirSync(path.join(base, "_failed_attempts"));
    expect(attempts).toHaveLength(1);
    const attemptDir = path.join(base, "_failed_attempts", attempts[0]!);
    const rec = readJson(path.join(attemptDir, "attempt.json"));
    expect(rec.category).toBe("PIPELINE_FAILED");
    expect(rec.message).toMatch(/Left CST: +0 streamlines; ✗ Metrics failed: No CST tractograms available/);
    expect(rec.message).toContain("no usable left CST");
    expect(rec.message).toContain("dropped the metrics of both sides");
    expect(rec.next_step).toContain("left hemisphere");
    expect(walk(attemptDir).some((f) => f.endsWith("extraction/trk/02_cst_right.trk"))).toBe(true);
  });
});

const describeRealSlurm = (HAVE_VENV || IN_CI) && requireSlurmOrSkip() ? describe : describe.skip;

describeRealSlurm("the real csttool over the phantom study through the test Slurm (cst-batch submit --scheduler slurm)", () => {
  const dir = tempDir("cst-real-slurm-");
  const bids = path.join(dir, "bids");
  const out = path.join(dir, "out");
  const argvLog = path.join(dir, "argv.jsonl");
  let submitted: { code: number | null; stdout: string; stderr: string };
  let version: string;

  beforeAll(async () => {
    if (!HAVE_VENV) throw new Error(`CI is set but the csttool venv is missing (${CSTTOOL}): run bash scripts/csttool-venv.sh before the tests`);
    const v = spawnSync(CSTTOOL, ["--version"], { encoding: "utf8" });
    version = /(\d+\.\d+\.\d+)/.exec(`${v.stdout}${v.stderr}`)?.[1] ?? "?";
    const made = spawnSync(PYTHON, [PHANTOM, bids], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`make-phantom-dataset.py failed: ${made.stderr}`);
    const atlasHome = syntheticAtlasHome(dir);
    submitted = runCli(
      ["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", WRAPPER, "--time", "30m", "--mem", "3G", "--array-throttle", "2", "--json", "--no-profile"],
      { env: { CSTTOOL_REAL: CSTTOOL, CSTTOOL_ARGV_LOG: argvLog, CSTTOOL_PYTHON: PYTHON, XDG_DATA_HOME: atlasHome } },
    );
    if (submitted.code !== 0) throw new Error(`submit exited ${submitted.code}: ${submitted.stderr}`);
    const json = JSON.parse(submitted.stdout) as { job_ids: string[]; collect_job_id: string };
    await waitForSlurmJobsGone([...json.job_ids, json.collect_job_id], 30 * 60_000);
  }, 35 * 60_000);

  it("every array task ran csttool once, and each succeeded with its results at their documented paths", () => {
    // the plan's probes (`--version`, `run --help`) are logged too: count the runs
    const calls = readFileSync(argvLog, "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]).filter((a) => a[0] === "run" && !a.includes("--help"));
    expect(calls).toHaveLength(TASKS.length);
    expectAllSucceeded(out, version);
  });

  it("the collect job ran after the array and its summary matches the subject folders", () => {
    const summary = readJson(path.join(out, "batch_summary.json"));
    expect(summary.counts.total).toBe(TASKS.length);
    expect(summary.counts.running + summary.counts.pending).toBe(0);
    expect(summary.counts.success).toBe(TASKS.length);
    expect(summary.counts.failed).toBe(0);
  });
});
