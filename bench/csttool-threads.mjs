#!/usr/bin/env node
// The real csttool over the phantom study in local mode, twice: with run-one's thread limits
// (OMP_NUM_THREADS etc. = cores ÷ jobs, the default) and without them (the variables set to the
// core count, which is what numpy/BLAS/OpenMP/numexpr do when nothing is set). Prints both wall
// times and the ratio. Not a test; needs build/csttool-venv (scripts/csttool-venv.sh) and uses
// the synthetic, anatomically meaningless TEST atlas in a temporary XDG_DATA_HOME.
//
//   npm run build && node bench/csttool-threads.mjs [--jobs 2] [--subjects sub-02,sub-03]
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const VENV = process.env.CSTTOOL_VENV ?? path.join(REPO, "build", "csttool-venv");
const PYTHON = path.join(VENV, "bin", "python");
const CSTTOOL = path.join(VENV, "bin", "csttool");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const jobs = arg("--jobs", "2");
const include = arg("--subjects", "");
const cores = os.availableParallelism();
const VARS = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMEXPR_MAX_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"];

const dir = mkdtempSync(path.join(os.tmpdir(), "cst-bench-threads-"));
const bids = path.join(dir, "bids");
const must = (r, what) => {
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr}`);
};
must(spawnSync(PYTHON, [path.join(REPO, "scripts", "make-phantom-dataset.py"), bids], { encoding: "utf8" }), "make-phantom-dataset.py");
const atlas = path.join(dir, "xdg-data-synthetic-atlas");
must(spawnSync(PYTHON, [path.join(REPO, "test", "csttool", "fixtures", "make-synthetic-atlas.py"), atlas], { encoding: "utf8" }), "make-synthetic-atlas.py");

function run(label, extraEnv) {
  const env = { ...process.env, XDG_DATA_HOME: atlas, ...extraEnv };
  for (const v of VARS) if (!(v in extraEnv)) delete env[v];
  const args = ["submit", "--scheduler", "local", "--bids-dir", bids, "--out", path.join(dir, `out-${label}`), "--csttool", CSTTOOL, "--jobs", jobs, "--canary", "0"];
  for (const s of include.split(",").filter(Boolean)) args.push("--include", s);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(REPO, "bin", "cst-batch.js"), ...args], { env, encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) console.error(`${label}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  return seconds;
}

const limited = run("limited", {});
const unlimited = run("unlimited", Object.fromEntries(VARS.map((v) => [v, String(cores)])));
console.log(`cores ${cores}, --jobs ${jobs}${include ? `, subjects ${include}` : ", 4 phantom tasks"}`);
console.log(`with run-one's thread limits (${Math.max(1, Math.floor(cores / Number(jobs)))} per task): ${limited.toFixed(1)} s`);
console.log(`without (every variable = ${cores}, the libraries' default): ${unlimited.toFixed(1)} s`);
console.log(`ratio without / with: ${(unlimited / limited).toFixed(2)}`);
console.log(`data kept in ${dir}`);
