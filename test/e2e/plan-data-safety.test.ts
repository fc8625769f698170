import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { CLI, makeDemoBids, runCli, STANDIN, tempDir, type CliResult } from "../helpers/cli.js";
import { minimalNifti } from "../helpers/nifti-bytes.js";

/**
 * "Never lose a byte", the plan-time part, through the built CLI: an --out that overlaps an
 * input is refused before anything is written, NIfTI files are opened and their header checked,
 * option problems are all reported with the values as given, and container binds that cannot be
 * expressed are preflight errors. Input files are compared byte for byte before and after.
 */

/** Every file under `dir` with the sha256 of its bytes. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.set(path.relative(dir, p), createHash("sha256").update(readFileSync(p)).digest("hex"));
    }
  };
  walk(dir);
  return files;
}

function setup() {
  const dir = tempDir("cst-e2e-safety-");
  const bids = makeDemoBids(path.join(dir, "ds"));
  return { dir, bids };
}

const plan = (args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult =>
  runCli(["plan", ...args, "--csttool", STANDIN, "--skip-disk-check"], opts);

function writeManifest(file: string, subjects: unknown[], extra: Record<string, unknown> = {}): string {
  writeFileSync(file, JSON.stringify({ ...extra, subjects }));
  return file;
}

describe("--out never overlaps an input", () => {
  it("the issue's reproduction (--out holds the manifest's input folder) is refused with exit 3 and leaves every file byte-identical", () => {
    const { dir, bids } = setup();
    const r1 = path.join(dir, "r1");
    mkdirSync(r1);
    cpSync(path.join(bids, "sub-02"), path.join(r1, "sub-02"), { recursive: true });
    cpSync(path.join(bids, "participants.tsv"), path.join(r1, "participants.tsv"));
    writeFileSync(path.join(r1, "m.json"), '{"subjects":[{"id":"sub-02","nifti":"sub-02/dwi/sub-02_dwi.nii.gz"}]}\n');
    const before = snapshot(r1);
    const r = runCli(["submit", "--scheduler", "local", "--manifest", "r1/m.json", "--out", "r1", "--csttool", STANDIN], { cwd: dir });
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toContain(`--out ${r1} contains the input folder ${path.join(r1, "sub-02", "dwi")}`);
    expect(snapshot(r1)).toEqual(before);
    expect(existsSync(path.join(r1, ".cst-batch"))).toBe(false);
  });

  it("--out that is the BIDS root (also via a trailing slash or a symlink), contains it, or is a subject folder is refused; <bids>/derivatives/<name> is planned", () => {
    const { dir, bids } = setup();
    const before = snapshot(bids);
    symlinkSync(bids, path.join(dir, "link"));
    const cases: [string, RegExp][] = [
      [bids, /is the BIDS folder itself/],
      [`${bids}/`, /is the BIDS folder itself/],
      [path.join(dir, "link") + "/", /real path .*ds\) is the BIDS folder itself/],
      [dir, /contains the BIDS folder/],
      [path.join(bids, "sub-02"), /is the BIDS subject folder .*sub-02/],
      [path.join(bids, "sub-01", "ses-01", "dwi", "results"), /lies inside the input folder .*sub-01\/ses-01\/dwi/],
    ];
    for (const [out, message] of cases) {
      const r = plan(["--bids-dir", bids, "--out", out]);
      expect(r.code, out).toBe(EXIT.PREFLIGHT);
      expect(r.stderr, out).toMatch(message);
      expect(r.stderr, out).toContain(bids);
    }
    // submit (here --dry-run for Slurm: nothing may be submitted) shares the planner's refusal
    const s = runCli(["submit", "--scheduler", "slurm", "--time", "1h", "--dry-run", "--bids-dir", bids, "--out", path.join(bids, "sub-02"), "--csttool", STANDIN, "--skip-disk-check"]);
    expect(s.code).toBe(EXIT.PREFLIGHT);
    expect(s.stderr).toMatch(/is the BIDS subject folder/);
    expect(snapshot(bids)).toEqual(before);
    const ok = plan(["--bids-dir", bids, "--out", path.join(bids, "derivatives", "csttool")]);
    expect(ok.code).toBe(EXIT.OK);
  });

  it("--out inside a manifest subject's NIfTI folder or DICOM folder is refused, naming both paths", () => {
    const { dir, bids } = setup();
    const before = snapshot(bids);
    const manifest = writeManifest(path.join(dir, "m.json"), [
      { id: "sub-02", nifti: path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz") },
      { id: "sub-03", dicom: path.join(bids, "sub-03", "dwi") },
    ]);
    const inNifti = plan(["--manifest", manifest, "--out", path.join(bids, "sub-02", "dwi", "out")]);
    expect(inNifti.code).toBe(EXIT.PREFLIGHT);
    expect(inNifti.stderr).toContain(`--out ${path.join(bids, "sub-02", "dwi", "out")} lies inside the input folder ${path.join(bids, "sub-02", "dwi")}`);
    const isDicom = plan(["--manifest", manifest, "--out", path.join(bids, "sub-03", "dwi")]);
    expect(isDicom.code).toBe(EXIT.PREFLIGHT);
    expect(isDicom.stderr).toContain(`--out ${path.join(bids, "sub-03", "dwi")} is the input folder ${path.join(bids, "sub-03", "dwi")} (sub-03's DICOM folder)`);
    expect(snapshot(bids)).toEqual(before);
    expect(plan(["--manifest", manifest, "--out", path.join(dir, "results")]).code).toBe(EXIT.OK);
  });

  it("a manifest cst-batch would overwrite inside --out is refused; a manifest merely sitting in --out is planned", () => {
    const { dir, bids } = setup();
    const nifti = path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz");
    const out = path.join(dir, "out");
    mkdirSync(path.join(out, "logs"), { recursive: true });
    for (const file of [path.join(out, "participants.tsv"), path.join(out, "logs", "m.json")]) {
      writeManifest(file, [{ id: "sub-02", nifti }]);
      const text = readFileSync(file);
      const r = plan(["--manifest", file, "--out", out]);
      expect(r.code, file).toBe(EXIT.PREFLIGHT);
      expect(r.stderr, file).toContain(`the manifest ${file}`);
      expect(r.stderr, file).toContain(`inside --out ${out}`);
      expect(readFileSync(file)).toEqual(text);
    }
    const sitting = writeManifest(path.join(out, "m.json"), [{ id: "sub-02", nifti }]);
    expect(plan(["--manifest", sitting, "--out", out]).code).toBe(EXIT.OK);
  });
});

/** A NIfTI-1 or NIfTI-2 header start with `sizeof_hdr` in the given byte order, plus some data. */
function header(sizeofHdr: number, bigEndian: boolean): Buffer {
  const b = Buffer.alloc(sizeofHdr + 64, 0);
  if (bigEndian) b.writeInt32BE(sizeofHdr, 0);
  else b.writeInt32LE(sizeofHdr, 0);
  return b;
}

/** A NIfTI set (NIfTI bytes as given, plus bval/bvec) in `dir`; returns the NIfTI path. */
function niftiSet(dir: string, name: string, bytes: Buffer): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  const stem = file.replace(/\.nii(\.gz)?$/, "");
  writeFileSync(`${stem}.bval`, "0 1000\n");
  writeFileSync(`${stem}.bvec`, "0 1\n0 0\n0 0\n");
  return file;
}

describe("the NIfTI preflight opens each file", () => {
  it("an empty NIfTI, a .nii.gz that is not gzip, and a header whose sizeof_hdr is not 348/540 are preflight problems naming the file; nothing is written", () => {
    const { dir } = setup();
    const data = path.join(dir, "data");
    const empty = niftiSet(data, "sub-1_dwi.nii.gz", Buffer.alloc(0));
    const notGzip = niftiSet(data, "sub-2_dwi.nii.gz", minimalNifti({ gzip: false }));
    const badHeader = niftiSet(data, "sub-3_dwi.nii.gz", gzipSync(Buffer.alloc(400, 7)));
    const badPlain = niftiSet(data, "sub-4_dwi.nii", Buffer.alloc(400, 7));
    const manifest = writeManifest(
      path.join(dir, "m.json"),
      [empty, notGzip, badHeader, badPlain].map((nifti, i) => ({ id: `sub-${i + 1}`, nifti })),
    );
    const out = path.join(dir, "out");
    const r = plan(["--manifest", manifest, "--out", out]);
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toContain(`${empty}: it is empty (0 bytes)`);
    expect(r.stderr).toContain(`${notGzip}: named .nii.gz but not gzip-compressed (first bytes 5c 01, expected 1f 8b)`);
    expect(r.stderr).toContain(`${badHeader}: not a NIfTI header after decompression`);
    expect(r.stderr).toContain(`${badPlain}: not a NIfTI header`);
    expect(r.stderr).toMatch(/expected 348 \(NIfTI-1\) or 540 \(NIfTI-2\)/);
    expect(r.stderr.match(/fix: /g)?.length).toBeGreaterThanOrEqual(4);
    expect(existsSync(out)).toBe(false);
  });

  it("NIfTI-1 and NIfTI-2 headers in either byte order, gzip-compressed or plain, are accepted", () => {
    const { dir } = setup();
    const data = path.join(dir, "data");
    const files = [
      niftiSet(data, "sub-1_dwi.nii.gz", gzipSync(header(348, false))),
      niftiSet(data, "sub-2_dwi.nii.gz", gzipSync(header(348, true))),
      niftiSet(data, "sub-3_dwi.nii.gz", gzipSync(header(540, false))),
      niftiSet(data, "sub-4_dwi.nii", header(540, true)),
      // a gzip header with a long stored file name: the first read does not reach the data
      niftiSet(data, "sub-5_dwi.nii.gz", gzipWithName(header(348, false), "x".repeat(3000))),
    ];
    const manifest = writeManifest(path.join(dir, "m.json"), files.map((nifti, i) => ({ id: `sub-${i + 1}`, nifti })));
    const r = plan(["--manifest", manifest, "--out", path.join(dir, "out"), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(EXIT.OK);
    expect(JSON.parse(r.stdout).preview.task_count).toBe(5);
  });

  const root = process.getuid?.() === 0;
  const setpriv = spawnSync("setpriv", ["--version"]).status === 0;
  it.skipIf(root && !setpriv)("a NIfTI the user who runs plan cannot open (mode 000) is a preflight problem naming the file (as root: run as nobody via setpriv)", () => {
    const { dir } = setup();
    chmodSync(dir, 0o755);
    const data = path.join(dir, "data");
    const file = niftiSet(data, "sub-1_dwi.nii.gz", minimalNifti());
    chmodSync(file, 0o000);
    const manifest = writeManifest(path.join(dir, "m.json"), [{ id: "sub-1", nifti: file }]);
    const out = path.join(dir, "out");
    const args = [CLI, "plan", "--manifest", manifest, "--out", out, "--csttool", STANDIN, "--skip-disk-check"];
    const env = { ...process.env, NO_COLOR: "1", CST_BATCH_CODE_CACHE: "off", HOME: dir };
    const r = root
      ? spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, ...args], { encoding: "utf8", env, cwd: dir })
      : spawnSync(process.execPath, args, { encoding: "utf8", env, cwd: dir });
    expect(r.status, r.stderr).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toMatch(new RegExp(`${escape(file)}: it cannot be opened by user \\d+ \\(EACCES\\)`));
    expect(r.stderr).toContain("make the file readable");
    expect(statSync(file).mode & 0o777).toBe(0);
    expect(existsSync(out)).toBe(false);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** gzip with the FNAME flag and a stored file name of any length (zlib's gzip writes none). */
function gzipWithName(data: Buffer, name: string): Buffer {
  const plain = gzipSync(data);
  const head = Buffer.from(plain.subarray(0, 10));
  head[3] = (head[3] ?? 0) | 0x08;
  return Buffer.concat([head, Buffer.from(name + "\0", "latin1"), plain.subarray(10)]);
}

describe("option problems are all reported, with the values as given", () => {
  it("a manifest subject with a wrong-type option, an out-of-range option and a broken rule gets all three reported", () => {
    const { dir, bids } = setup();
    const manifest = writeManifest(path.join(dir, "m.json"), [
      { id: "sub-02", nifti: path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz"), options: { fa_thr: "high", seed_density: 500, sh_order: 5 } },
    ]);
    const r = plan(["--manifest", manifest, "--out", path.join(dir, "out")]);
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toContain('subjects[0].options.fa_thr: must be between 0 and 1, got "high"');
    expect(r.stderr).toContain("subjects[0].options.seed_density: must be a whole number between 1 and 100, got 500");
    expect(r.stderr).toContain("subjects[0].options.sh_order: must be even, got 5");
    expect(existsSync(path.join(dir, "out"))).toBe(false);
  });

  it("command-line values are quoted as typed (--fa-thr 1e999, not null), every bad flag at once, ranges in plain words", () => {
    const { dir, bids } = setup();
    const r = plan(["--bids-dir", bids, "--out", path.join(dir, "out"), "--fa-thr", "1e999", "--seed-density", "2.5", "--sh-order", "5", "--target-voxel-size", "2", "2", "50"]);
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toContain("--fa-thr must be between 0 and 1, got 1e999");
    expect(r.stderr).toContain("--seed-density must be a whole number between 1 and 100, got 2.5");
    expect(r.stderr).toContain("--sh-order must be even, got 5");
    expect(r.stderr).toContain("--target-voxel-size must be three numbers (X Y Z mm), each between 0.1 and 10, got 2 2 50");
    expect(r.stderr).not.toContain("null");
  });

  it("a manifest number too large for a double (1e999) is reported as written, not as null", () => {
    const { dir, bids } = setup();
    const manifest = path.join(dir, "m.json");
    writeFileSync(manifest, `{"subjects":[{"id":"sub-02","nifti":${JSON.stringify(path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz"))},"options":{"fa_thr":1e999}}]}`);
    const r = plan(["--manifest", manifest, "--out", path.join(dir, "out")]);
    expect(r.code).toBe(EXIT.USAGE); // the manifest itself is invalid (as every unparseable manifest: exit 2)
    expect(r.stderr).toMatch(/line 1, column \d+: number 1e999 is too large/);
    expect(r.stderr).not.toContain("null");
  });
});

describe("container binds", () => {
  const submitArgs = (bids: string, out: string) => [
    "submit", "--scheduler", "slurm", "--time", "1h", "--max-array-size", "1000", "--dry-run",
    "--container", "/images/csttool.sif", "--csttool-version", "0.5.0",
    "--bids-dir", bids, "--out", out, "--skip-disk-check",
  ];

  it("--out or an input folder holding ',' or ':' is a preflight error naming the path (apptainer's --bind cannot express it), before anything runs", () => {
    const { dir } = setup();
    const bids = makeDemoBids(path.join(dir, "study,v2"));
    const out = path.join(dir, "out:1");
    const r = runCli(submitArgs(bids, out));
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toContain(`--out ${out} holds ":", which apptainer's --bind list cannot express`);
    expect(r.stderr).toContain(`the input folder ${path.join(bids, "sub-02", "dwi")} (sub-02) holds ","`);
    expect(r.stderr).toContain(`the input folder ${path.join(bids, "sub-03", "dwi")} (sub-03) holds ","`);
    expect(r.stdout).not.toContain("#SBATCH");
    expect(existsSync(out)).toBe(false);
    // the same study at bindable paths is planned and its array script rendered
    const clean = makeDemoBids(path.join(dir, "study"));
    const ok = runCli(submitArgs(clean, path.join(dir, "out")));
    expect(ok.code, ok.stderr).toBe(EXIT.OK);
    expect(ok.stdout).toContain("#SBATCH");
    // without --container the ',' and ':' paths are fine
    const plain = runCli(submitArgs(bids, out).filter((a, i, all) => a !== "--container" && all[i - 1] !== "--container"));
    expect(plain.code, plain.stderr).toBe(EXIT.OK);
  });

  it("run-one --container-image on such a plan fails the subject (SYSTEM) naming the folder, without starting the container", () => {
    const { dir } = setup();
    const bids = makeDemoBids(path.join(dir, "study,v2"));
    const out = path.join(dir, "out");
    expect(runCli(["plan", "--bids-dir", bids, "--out", out, "--csttool", STANDIN]).code).toBe(EXIT.OK);
    // A runtime that would leave a mark if it ran.
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "apptainer"), `#!/bin/sh\ntouch ${JSON.stringify(path.join(dir, "apptainer-ran"))}\n`, { mode: 0o755 });
    const r = runCli(["run-one", "--plan", path.join(out, ".cst-batch", "plan.jsonl"), "--index", "2", "--container-image", "/images/csttool.sif"], {
      env: { PATH: `${bin}:${process.env.PATH ?? ""}` },
    });
    expect(r.code).toBe(EXIT.SYSTEM);
    expect(r.stderr).toContain(`cannot bind the folder ${path.join(bids, "sub-02", "dwi")}`);
    expect(existsSync(path.join(dir, "apptainer-ran"))).toBe(false);
    expect(readdirSync(path.join(out, "sub-02", "_failed_attempts"))[0]).toMatch(/_SYSTEM$/);
  });
});

describe("manifest size guard by subject count and memory", () => {
  // heap_size_limit = 64 MB old space + the young generation (48 MB on Node 20 x64: 112 MB),
  // room for (limit - 48 MB) / 12 KB subjects (5,461 at 112 MB)
  const env = { NODE_OPTIONS: "--max-old-space-size=64" };
  const limit = Number(spawnSync(process.execPath, ["--max-old-space-size=64", "-p", "v8.getHeapStatistics().heap_size_limit"], { encoding: "utf8" }).stdout);
  const limitMb = Math.round(limit / 1024 / 1024);
  const maxSubjects = Math.floor((limit - 48 * 1024 * 1024) / (12 * 1024)).toLocaleString("en-US");
  const subjects = (n: number, dir: string) => Array.from({ length: n }, (_, i) => ({ id: `sub-${i}`, nifti: path.join(dir, `sub-${i}_dwi.nii.gz`) }));

  it("a manifest with more subjects than this heap can plan is refused up front with the count and the limit (exit 3, no V8 abort)", () => {
    const { dir } = setup();
    const manifest = writeManifest(path.join(dir, "big.json"), subjects(10_000, path.join(dir, "data")));
    const r = plan(["--manifest", manifest, "--out", path.join(dir, "out")], { env });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toContain(`manifest ${manifest} lists 10,000 subjects`);
    expect(r.stderr).toContain(`heap limit of ${limitMb} MB plan handles up to ${maxSubjects} subjects`);
    expect(r.stderr).toContain("--max-old-space-size");
    expect(r.stderr).not.toContain("heap out of memory");
    // within the limit the same heap plans on (here: to the missing input files)
    const small = writeManifest(path.join(dir, "small.json"), subjects(3_000, path.join(dir, "data")));
    const s = plan(["--manifest", small, "--out", path.join(dir, "out")], { env });
    expect(s.code).toBe(EXIT.PREFLIGHT);
    expect(s.stderr).not.toContain("plan handles up to");
    expect(s.stderr).toContain("NIfTI not found");
  });

  it("a manifest file too large to even parse with this heap is refused before it is read", () => {
    const { dir } = setup();
    const manifest = path.join(dir, "huge.json");
    // just larger than (limit - 48 MB) / 3: the text and its parsed tree would not fit
    const bytes = Math.ceil((limit - 48 * 1024 * 1024) / 3) + 2 * 1024 * 1024;
    writeFileSync(manifest, `{"subjects":[]${" ".repeat(bytes)}}`);
    const r = plan(["--manifest", manifest, "--out", path.join(dir, "out")], { env });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(EXIT.PREFLIGHT);
    expect(r.stderr).toMatch(new RegExp(`huge\\.json is \\d+ MB: reading it needs about \\d+ MB of memory, more than this process has \\(heap limit ${limitMb} MB`));
  });
});
