import { promises as fsp, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRunHelp } from "../../../src/plan/csttool-help.js";
import { resolveCsttool } from "../../../src/plan/csttool.js";
import { createPlan, type PlanOutcome } from "../../../src/plan/planner.js";
import { checkOptionsOffered } from "../../../src/plan/preflight.js";
import { userDataDir } from "../../../src/plan/atlas-check.js";
import { makeBidsDataset, makeTempDir } from "../../helpers/plan-bids-maker.js";
import { makeVersionOnlyCsttool } from "../../helpers/plan-fake-csttool.js";
import { STANDIN } from "../../helpers/run-plan.js";

/** csttool's capabilities (`csttool run --help`) at plan time, and the preflight built on them. */

const REAL_HELP = readFileSync(path.join(path.dirname(STANDIN), "..", "csttool", "run-help-0.5.0.txt"), "utf8");

let tmp: string;
let bids: string;
let n = 0;
beforeAll(async () => {
  tmp = await makeTempDir("cst-caps-");
  bids = await makeBidsDataset(path.join(tmp, "bids"), [{ id: "sub-01" }, { id: "sub-02" }]);
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});
const fresh = (name: string): string => path.join(tmp, `${name}${n++}`);

/** A shell csttool: `--version` prints csttool <version>; `run --help` runs `helpScript`. */
async function shellCsttool(helpScript: string, opts: { shebang?: string; version?: string } = {}): Promise<string> {
  const dir = fresh("bin");
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, "csttool");
  await fsp.writeFile(
    file,
    `${opts.shebang ?? "#!/bin/sh"}
if [ "$1" = "--version" ]; then echo "csttool ${opts.version ?? "0.5.0"}"; exit 0; fi
if [ "$1" = "run" ] && [ "$2" = "--help" ]; then ${helpScript}; fi
echo "usage: csttool run (--nifti FILE | --dicom DIR) --out DIR --subject-id LABEL" >&2
exit 2
`,
    { mode: 0o755 },
  );
  return file;
}

/** A csttool whose `run --help` prints `help` (written beside it). */
async function helpCsttool(help: string, version = "0.5.0"): Promise<string> {
  const file = await shellCsttool("", { version });
  const helpFile = path.join(path.dirname(file), "help.txt");
  await fsp.writeFile(helpFile, help);
  const text = (await fsp.readFile(file, "utf8")).replace('then ; fi', `then cat '${helpFile}'; exit 0; fi`);
  await fsp.writeFile(file, text);
  return file;
}

function problemsOf(o: PlanOutcome) {
  if (o.kind !== "problems") throw new Error("expected problems, got a plan");
  return o.problems;
}
function planned(o: PlanOutcome) {
  if (o.kind !== "planned") throw new Error(`expected a plan, got:\n${o.problems.map((p) => `${p.severity} ${p.message}`).join("\n")}`);
  return o;
}

describe("parseRunHelp", () => {
  it("reads every long option and the choices of csttool 0.5.0's real `run --help`", () => {
    const help = parseRunHelp(REAL_HELP);
    expect(help).not.toBeNull();
    expect(help!.flags).toEqual(
      [
        "--bids-out", "--coil-count", "--continue-on-error", "--denoise-method", "--dicom", "--dilate-brainstem", "--dilate-motor",
        "--echo-time", "--extraction-method", "--fa-thr", "--field-strength", "--generate-pdf", "--max-length", "--min-length",
        "--nifti", "--out", "--perform-motion-correction", "--preprocess", "--quiet", "--save-visualizations", "--seed-density",
        "--seed-fa-threshold", "--series", "--session-id", "--sh-order", "--show-plots", "--skip-check", "--space", "--step-size",
        "--subject-id", "--target-voxel-size", "--unring", "--verbose",
      ].sort(),
    );
    expect(help!.choices).toEqual({
      "--denoise-method": ["patch2self", "nlmeans"],
      "--extraction-method": ["endpoint", "passthrough", "roi-seeded", "bidirectional"],
    });
  });

  it("is null for anything but argparse help", () => {
    expect(parseRunHelp("")).toBeNull();
    expect(parseRunHelp("csttool 0.5.0\n")).toBeNull();
    // A usage line alone (no option list with -h, --help) is not enough to judge flags by.
    expect(parseRunHelp("usage: csttool run (--nifti FILE | --dicom DIR) --out DIR --subject-id LABEL [flags]\n")).toBeNull();
  });

  it("our stand-in answers `run --help` with the real 0.5.0 text", () => {
    const r = spawnSync(STANDIN, ["run", "--help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(REAL_HELP);
  });
});

describe("preflight against csttool's capabilities", () => {
  it("a value outside this csttool's choices is an error listing the accepted values; the plan is not written", async () => {
    const out = fresh("out");
    const problems = problemsOf(await createPlan({ bidsDir: bids, out, csttool: STANDIN, options: { preprocessing: true, denoise_method: "mppca" } }));
    const errors = problems.filter((p) => p.severity === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe("csttool 0.5.0 accepts --denoise-method patch2self or nlmeans; mppca is not available in this version");
    expect(errors[0]!.fix).toContain("patch2self, nlmeans");
    await expect(fsp.access(out)).rejects.toThrow();
  });

  it("a flag this csttool does not offer is an error naming the option, the flag and the version", async () => {
    const withoutUnring = REAL_HELP.split("\n").filter((l) => !l.includes("--unring")).join("\n");
    const csttool = await helpCsttool(withoutUnring, "0.4.2");
    // A shell script answering argparse help counts as a wrapper of the real csttool: its atlas check is allowed to fail here.
    const problems = problemsOf(await createPlan({ bidsDir: bids, out: fresh("out"), csttool, options: { unring: true, fa_thr: 0.3 }, allowMissingAtlas: true }));
    const errors = problems.filter((p) => p.severity === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain("csttool 0.4.2 has no --unring");
    expect(errors[0]!.message).toContain("option unring");
    expect(errors[0]!.fix).toContain("unring");
  });

  it("names the tasks when only some of them use the value", () => {
    const caps = { probed: true, reason: null, flags: ["--denoise-method", "--preprocess"], choices: { "--denoise-method": ["patch2self", "nlmeans"] } };
    const tasks = [
      { key: "sub-01", options: { denoise_method: "nlmeans" as const } },
      { key: "sub-02", options: { denoise_method: "mppca" as const } },
      { key: "sub-03", options: { unring: false } },
    ];
    const problems = checkOptionsOffered(tasks, caps, "0.5.0");
    expect(problems.map((p) => p.message)).toEqual(["csttool 0.5.0 accepts --denoise-method patch2self or nlmeans; mppca is not available in this version (1 task(s): sub-02)"]);
    expect(checkOptionsOffered(tasks, { probed: false, reason: "x", flags: [], choices: {} }, "0.5.0")).toEqual([]);
  });

  it("the probed flags and choices are recorded in the plan header", async () => {
    const o = planned(await createPlan({ bidsDir: bids, out: fresh("out"), csttool: STANDIN, options: { denoise_method: "nlmeans" } }));
    const caps = o.plan.csttool_capabilities!;
    expect(caps.probed).toBe(true);
    expect(caps.flags).toContain("--denoise-method");
    expect(caps.choices["--denoise-method"]).toEqual(["patch2self", "nlmeans"]);
    // The header is the plan file's first line.
    const onDisk = JSON.parse((await fsp.readFile(o.planPath, "utf8")).split("\n")[0]!) as { csttool_capabilities: unknown };
    expect(onDisk.csttool_capabilities).toEqual(caps);
  });

  it("checks are skipped silently when `run --help` is unavailable, and the plan says so", async () => {
    const minimal = await shellCsttool(""); // only --version and run (run --help exits 2)
    const silent = await makeVersionOnlyCsttool(fresh("bin")); // run --help exits 0 printing nothing
    for (const csttool of [minimal, silent]) {
      const o = planned(await createPlan({ bidsDir: bids, out: fresh("out"), csttool, options: { preprocessing: true, denoise_method: "mppca" } }));
      expect(o.plan.csttool_capabilities).toMatchObject({ probed: false, flags: [], choices: {} });
      expect(o.plan.csttool_capabilities!.reason).toMatch(/run --help/);
      expect(o.preview.warnings.filter((w) => w.category === "options")).toEqual([]);
    }
    const given = planned(await createPlan({ bidsDir: bids, out: fresh("out"), csttool: STANDIN, csttoolVersion: "0.5.0", options: { denoise_method: "mppca" } }));
    expect(given.plan.csttool_capabilities).toMatchObject({ probed: false, reason: "--csttool-version given: csttool was not run" });
  });

  it("a `run --help` that never answers does not hold the plan for the whole probe timeout", async () => {
    // `sleep` is a child of the shell: it holds the output pipe even after the shell is gone.
    const hanging = await shellCsttool("sleep 30");
    const t0 = Date.now();
    const r = await resolveCsttool({ csttool: hanging, version: null, cwd: tmp, env: process.env });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.ok && r.capabilities).toMatchObject({ probed: false, reason: "`csttool run --help` did not answer in time" });
  }, 20_000);
});

describe("atlas data of the real csttool", () => {
  const ATLAS = path.join("csttool", "harvard_oxford", "HarvardOxford-cort-maxprob-thr25-1mm.nii.gz");

  const SUB = path.join("csttool", "harvard_oxford", "HarvardOxford-sub-maxprob-thr25-1mm.nii.gz");
  const pythonCsttool = async (): Promise<string> => {
    const python = path.join(fresh("bin"), "csttool");
    await fsp.mkdir(path.dirname(python), { recursive: true });
    await fsp.writeFile(python, '#!/usr/bin/env python3\nimport sys\nprint("csttool 0.5.0") if sys.argv[1:] == ["--version"] else sys.exit(2)\n', { mode: 0o755 });
    return python;
  };

  it("a Python csttool without the FSL atlas data is refused at plan time, naming both files and the fix; --allow-missing-atlas makes it a warning", async () => {
    const python = await pythonCsttool();
    const dataHome = fresh("xdg");
    const env = { ...process.env, XDG_DATA_HOME: dataHome };
    const refused = await createPlan({ bidsDir: bids, out: fresh("out"), csttool: python, env });
    expect(refused.kind).toBe("problems");
    const errors = refused.kind === "problems" ? refused.problems.filter((p) => p.severity === "error" && p.message.includes("atlas")) : [];
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain(path.join(dataHome, ATLAS));
    expect(errors[0]!.message).toContain(path.join(dataHome, SUB));
    expect(errors[0]!.fix).toContain("csttool fetch-data --accept-fsl-license");
    expect(errors[0]!.fix).toContain("--allow-missing-atlas");

    const allowed = planned(await createPlan({ bidsDir: bids, out: fresh("out"), csttool: python, env, allowMissingAtlas: true }));
    expect(allowed.preview.warnings.filter((w) => w.message.includes("atlas"))).toHaveLength(1);
  });

  it("an atlas file that fails csttool's checksum (and has no validation stamp) is refused like a missing one", async () => {
    const python = await pythonCsttool();
    const dataHome = fresh("xdg");
    for (const f of [ATLAS, SUB]) {
      await fsp.mkdir(path.dirname(path.join(dataHome, f)), { recursive: true });
      await fsp.writeFile(path.join(dataHome, f), "not the atlas");
    }
    const r = await createPlan({ bidsDir: bids, out: fresh("out"), csttool: python, env: { ...process.env, XDG_DATA_HOME: dataHome } });
    expect(r.kind).toBe("problems");
    const msg = r.kind === "problems" ? r.problems.find((p) => p.message.includes("atlas"))!.message : "";
    expect(msg).toContain("fails csttool's checksum");
    expect(msg).toContain("13 bytes instead of 138203");
  });

  it("atlas files accepted by csttool's validation stamp (same size and mtime, sha256_ok) pass; a stamp for another mtime does not", async () => {
    const python = await pythonCsttool();
    const dataHome = fresh("xdg");
    const stamp: Record<string, unknown> = {};
    for (const f of [ATLAS, SUB]) {
      const file = path.join(dataHome, f);
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await fsp.writeFile(file, "synthetic");
      await fsp.utimes(file, 1700000000.25, 1700000000.25);
      stamp[file] = { size: 9, mtime: 1700000000.25, sha256_ok: true };
    }
    await fsp.writeFile(path.join(dataHome, "csttool", ".validated"), JSON.stringify(stamp));
    const env = { ...process.env, XDG_DATA_HOME: dataHome };
    const ok = planned(await createPlan({ bidsDir: bids, out: fresh("out"), csttool: python, env }));
    expect(ok.preview.warnings.filter((w) => w.message.includes("atlas"))).toEqual([]);
    await fsp.utimes(path.join(dataHome, SUB), 1700000001, 1700000001);
    const stale = await createPlan({ bidsDir: bids, out: fresh("out"), csttool: python, env });
    expect(stale.kind).toBe("problems");
    expect(stale.kind === "problems" && stale.problems.find((p) => p.message.includes("atlas"))!.message).toContain(path.join(dataHome, SUB));
  });

  it("no atlas problem for our node stand-in; the data folder follows XDG_DATA_HOME, else ~/.local/share", async () => {
    const env = { ...process.env, XDG_DATA_HOME: fresh("empty-xdg") };
    const o = planned(await createPlan({ bidsDir: bids, out: fresh("out"), csttool: STANDIN, env }));
    expect(o.preview.warnings.filter((w) => w.message.includes("atlas"))).toEqual([]);
    expect(userDataDir({ HOME: "/home/u" })).toBe("/home/u/.local/share");
    expect(userDataDir({ HOME: "/home/u", XDG_DATA_HOME: "/data" })).toBe("/data");
  });
});
