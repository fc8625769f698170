// Synthetic data: BIDS trees with tiny placeholder inputs, and finished output trees whose
// `_done.json` / attempt records are built with cst-batch's own code and schemas (from dist/).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

const dist = new URL("../../dist/", import.meta.url);
const load = (p) => import(new URL(p, dist).href);

/** Five-digit subject labels: sub-00000, sub-00001, ... */
export function subjectLabel(i) {
  return String(i).padStart(5, "0");
}

/**
 * `<root>/sub-XXXXX/ses-01/dwi/sub-XXXXX_ses-01_dwi.{nii.gz,bval,bvec,json}` for `count` subjects,
 * plus the usual root files. The NIfTI is a minimal gzip-compressed NIfTI-1 header plus 64 bytes
 * (plan reads its first bytes).
 */
export function makeBidsTree(root, count) {
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, "dataset_description.json"), JSON.stringify({ Name: "bench", BIDSVersion: "1.9.0" }) + "\n");
  writeFileSync(path.join(root, "participants.tsv"), "participant_id\n");
  const raw = Buffer.alloc(352 + 64, 1);
  raw.fill(0, 0, 352);
  raw.writeInt32LE(348, 0);
  raw.write("n+1\0", 344, "latin1");
  const nifti = gzipSync(raw);
  const sidecar = JSON.stringify({ RepetitionTime: 3.2, EchoTime: 0.089, PhaseEncodingDirection: "j-" }) + "\n";
  for (let i = 0; i < count; i++) {
    const sub = `sub-${subjectLabel(i)}`;
    const dwi = path.join(root, sub, "ses-01", "dwi");
    mkdirSync(dwi, { recursive: true });
    const stem = path.join(dwi, `${sub}_ses-01_dwi`);
    writeFileSync(`${stem}.nii.gz`, nifti);
    writeFileSync(`${stem}.bval`, "0 1000 1000 1000 1000 1000 1000\n");
    writeFileSync(`${stem}.bvec`, "0 1 0 0 0.7 0.7 0\n0 0 1 0 0.7 0 0.7\n0 0 0 1 0 0.7 0.7\n");
    writeFileSync(`${stem}.json`, sidecar);
  }
}

/** A small deterministic PRNG, so the metrics are the same every run. */
function seeded(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** A csttool 0.5 metrics JSON (pretty-printed like Python's json.dump(indent=2)); some with NaN. */
export function metricsText(subject, session, i) {
  const r = seeded(i * 2654435761);
  const scalar = (base, spread) => ({
    mean: base + r() * spread,
    std: spread / 4 + r() * spread / 4,
    median: base + r() * spread,
    pontine: base + r() * spread,
    plic: base + r() * spread,
    precentral: base + r() * spread,
  });
  const side = () => ({
    morphology: { n_streamlines: Math.round(800 + r() * 900), mean_length: 90 + r() * 40, tract_volume: 9000 + r() * 6000 },
    fa: scalar(0.45, 0.1),
    md: scalar(0.0007, 0.0002),
    rd: scalar(0.0005, 0.0001),
    ad: scalar(0.0012, 0.0002),
  });
  const left = side();
  const right = side();
  const li = (a, b) => (a - b) / (a + b);
  const asymmetry = {
    volume: { laterality_index: li(left.morphology.tract_volume, right.morphology.tract_volume) },
    streamline_count: { laterality_index: li(left.morphology.n_streamlines, right.morphology.n_streamlines) },
    mean_length: { laterality_index: li(left.morphology.mean_length, right.morphology.mean_length) },
  };
  for (const s of ["fa", "md", "rd", "ad"]) {
    asymmetry[s] = { laterality_index: li(left[s].mean, right[s].mean) };
    for (const reg of ["pontine", "plic", "precentral"]) asymmetry[`${s}_${reg}`] = { laterality_index: li(left[s][reg], right[s][reg]) };
  }
  const doc = {
    subject_id: subject,
    session_id: session,
    csttool_version: "0.5.0",
    processing_date: "2026-01-01T00:00:00",
    acquisition: { field_strength: 3, n_volumes: 65, voxel_size_mm: [2, 2, 2] },
    processing: { extraction_method: "passthrough", fa_threshold: 0.2, seed_density: 2 },
    qc_thresholds: { min_streamlines: 50 },
    metrics: { left, right, asymmetry },
  };
  let text = JSON.stringify(doc, null, 2);
  if (i % 50 === 7) text = text.replace(/("pontine": )[0-9.e-]+/, "$1NaN");
  return text + "\n";
}

/** The files csttool 0.5 leaves in a subject folder (relative paths), as listed in `_done.json`. */
function resultFiles(prefix) {
  const files = [`reports/${prefix}_metrics.json`, `reports/${prefix}_metrics.csv`, `reports/${prefix}_report.html`];
  files.push(`dwi/${prefix}_desc-preproc_dwi.nii.gz`, `dwi/${prefix}_desc-preproc_dwi.bval`, `dwi/${prefix}_desc-preproc_dwi.bvec`);
  for (const p of ["FA", "MD", "RD", "AD"]) files.push(`dwi/${prefix}_model-DTI_param-${p}_dwimap.nii.gz`, `dwi/${prefix}_model-DTI_param-${p}_dwimap.json`);
  for (const t of ["wholebrain", "CSTleft", "CSTright", "CSTbilateral"]) files.push(`dwi/tractography/${prefix}_desc-${t}_tractogram.trk`);
  for (const f of ["qc_fa", "qc_tracts", "qc_registration"]) files.push(`figures/${prefix}_${f}.png`);
  return files.sort();
}

/**
 * Write finished state for every task of the plan in `out` (the plan's own out_dir), the way
 * run-one leaves it: 94% success (`_done.json` + metrics + the other result files), 3% failed
 * (a `_failed_attempts/<ts>_PIPELINE_FAILED/attempt.json` + error log), 1% done with an older
 * config (outdated: pending again), 2% never run. Every record is checked against its schema.
 * Done records carry `input_hashes` as run-one writes them; `inputHashes: false` leaves them out
 * (a study done by an earlier cst-batch, which recorded none).
 */
export async function writeDoneTree(out, { light = false, inputHashes = true } = {}) {
  const [{ loadPlan }, { csttoolArgv }, layout, records, attempt, { CST_BATCH_VERSION }] = await Promise.all([
    load("plan/load-plan.js"),
    load("run/csttool-argv.js"),
    load("layout.js"),
    load("schemas/records.js"),
    load("run/attempt.js"),
    load("version.js"),
  ]);
  const plan = await loadPlan(layout.currentPlanPath(out));
  const logs = layout.logsDir(out);
  mkdirSync(logs, { recursive: true });
  const counts = { success: 0, failed: 0, outdated: 0, pending: 0 };
  const t0 = Date.parse("2026-03-01T08:00:00Z");
  // The bench's inputs repeat the same few contents: each distinct file content hashed once.
  const shaOf = new Map();
  const hashesOf = (task) =>
    task.input.kind !== "nifti"
      ? undefined
      : task.input.identity.map((f) => {
          const st = statSync(f.path);
          const bytes = readFileSync(f.path);
          const key = bytes.toString("latin1");
          if (!shaOf.has(key)) shaOf.set(key, createHash("sha256").update(bytes).digest("hex"));
          return { path: f.path, size: st.size, mtime_ms: st.mtimeMs, ino: st.ino, sha256: shaOf.get(key) };
        });
  for (const task of plan.tasks) {
    const i = task.index;
    const kind = i % 100 < 94 ? "success" : i % 100 < 97 ? "failed" : i % 100 < 98 ? "outdated" : "pending";
    counts[kind]++;
    if (kind === "pending") continue;
    const paths = layout.taskPaths(out, task);
    mkdirSync(paths.dir, { recursive: true });
    // light (the --scale study): only what status and collect read: records, metrics, error logs.
    if (!light) writeFileSync(paths.lock, JSON.stringify({ schema_version: 1, kind: "cst-batch-lock", pid: 1000 + i, host: "bench-node", job_id: `77_${i}`, since: new Date(t0 + i * 1000).toISOString(), child_pgid: 2000 + i, token: "0".repeat(32) }) + "\n");
    const started = new Date(t0 + i * 60_000);
    const finished = new Date(started.getTime() + 3_600_000 + (i % 17) * 61_000);
    const identity = {
      subject: task.subject,
      session: task.session,
      task_key: task.key,
      config_hash: kind === "outdated" ? "sha256:" + "0".repeat(64) : task.config_hash,
      plan_id: plan.plan_id,
      csttool_version: plan.csttool.version,
      cst_batch_version: CST_BATCH_VERSION,
      started_at: started.toISOString(),
      finished_at: finished.toISOString(),
      duration_seconds: (finished - started) / 1000,
      host: `node${String(i % 40).padStart(3, "0")}`,
      pid: 4000 + (i % 30000),
      job_id: `77_${i}`,
      csttool_argv: csttoolArgv(plan.csttool.executable, task, path.join(out, task.output_dir)),
      max_rss_kb: 3_500_000 + (i % 1000) * 1000,
    };
    const logLines = Array.from({ length: 40 }, (_, k) => `${finished.toISOString()} out| step ${k}: ok`);
    if (!light) writeFileSync(path.join(out, layout.relativeLogFile(task.key)), logLines.join("\n") + "\n");
    if (kind === "failed") {
      const id = `${attempt.fsTimestamp(finished)}_PIPELINE_FAILED`;
      const dir = path.join(paths.failed, id);
      mkdirSync(dir, { recursive: true });
      const record = attempt.buildAttemptRecord(id, identity, {
        category: "PIPELINE_FAILED",
        message: "csttool exited with status 1: RuntimeError: tractography produced no streamlines",
        exitCode: 1,
        signal: null,
        logTail: logLines.slice(-30),
        // As a scheduler job would write it (the failure catalogue's next step names resubmit for this subject).
        study: { out, local: false, subjects: [task.key] },
      });
      records.AttemptRecordSchema.parse(record);
      writeFileSync(path.join(dir, "attempt.json"), JSON.stringify(record, null, 2) + "\n");
      writeFileSync(path.join(dir, "csttool.log"), logLines.join("\n") + "\n");
      writeFileSync(paths.errorLog, logLines.join("\n") + "\n");
      continue;
    }
    const prefix = task.session ? `${task.subject}_${task.session}` : task.subject;
    const metrics = metricsText(task.subject, task.session, i);
    const files = resultFiles(prefix).map((p) => ({ path: p, size: p.endsWith("_metrics.json") ? Buffer.byteLength(metrics) : 1000 + (p.length * 37) % 5000 }));
    // had_failed_attempts: run-one records whether `_failed_attempts/` existed (none here).
    const done = { schema_version: 1, kind: "cst-batch-done", ...identity, exit_code: 0, files, metrics_file: `reports/${prefix}_metrics.json`, had_failed_attempts: false };
    const hashes = inputHashes ? hashesOf(task) : undefined;
    if (hashes !== undefined) done.input_hashes = hashes;
    records.DoneRecordSchema.parse(done);
    mkdirSync(path.join(paths.dir, "reports"), { recursive: true });
    writeFileSync(path.join(paths.dir, "reports", `${prefix}_metrics.json`), metrics);
    if (!light) {
      mkdirSync(path.join(paths.dir, "dwi"), { recursive: true });
      writeFileSync(path.join(paths.dir, "reports", `${prefix}_metrics.csv`), "subject_id,left_fa_mean\n" + `${task.subject},0.5\n`);
      writeFileSync(path.join(paths.dir, "dwi", `${prefix}_desc-preproc_dwi.nii.gz`), Buffer.alloc(16));
    }
    writeFileSync(paths.done, JSON.stringify(done, null, 2) + "\n");
  }
  return { plan, counts };
}
