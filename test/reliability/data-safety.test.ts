import { describe, expect, it } from "vitest";
import { readCurrentPlan } from "../helpers/plan-file.js";
import { cpSync, existsSync, lstatSync, mkdirSync, promises as fsp, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, tempDir, type CliResult } from "../helpers/cli.js";
import { diffTrees, hasStackTrace, snapshotTree, type TreeEntry } from "../helpers/reliability-fs.js";
import { layoutPaths } from "../helpers/reliability-layout.js";
import { FULL, reportFamily, Tally } from "../helpers/reliability-results.js";

/**
 * "Never lose a byte", through the built CLI: no input file and no foreign file changes (every
 * file outside cst-batch's own paths is snapshotted, byte for byte, before and after), nothing is
 * written outside --out, --out may not hold the inputs, planted symlinks are refused by name, and
 * a moved study is never written at its old place.
 */

interface Study {
  root: string;
  bids: string;
  out: string;
  env: Record<string, string>;
}

/** A demo BIDS study in `<root>/<parent>/ds`, output `<root>/<parent>/out`; `behaviours` for the csttool stand-in. */
function newStudy(behaviours: Record<string, string> = {}, parent = "."): Study {
  const root = tempDir("cst-rel-safety-");
  const base = path.join(root, parent);
  mkdirSync(base, { recursive: true });
  const bids = makeDemoBids(path.join(base, "ds"));
  const config = path.join(root, "standin.json");
  writeFileSync(config, JSON.stringify(behaviours));
  return { root, bids, out: path.join(base, "out"), env: { CSTTOOL_STANDIN_CONFIG: config } };
}

/** Run the CLI; an internal error or a stack trace is a defect whatever the case expects. */
function cli(s: Study, args: string[]): CliResult {
  const r = runCli(args, { env: s.env, cwd: s.root });
  if (r.signal) throw new Error(`${args[0]} killed by ${r.signal}`);
  if (r.code === EXIT.INTERNAL || hasStackTrace(r.stderr)) throw new Error(`${args[0]}: internal error / stack trace: ${r.stderr.slice(0, 400)}`);
  return r;
}

const submitArgs = (bids: string, out: string, ...extra: string[]) => ["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--jobs", "2", "--skip-disk-check", ...extra];

/** Relative paths (from root) of `outs` and everything under them: cst-batch's own. */
function skipUnder(root: string, outs: string[]): (rel: string) => boolean {
  const rels = outs.map((o) => path.relative(root, o).split(path.sep).join("/"));
  return (rel) => rels.some((o) => rel === o || rel.startsWith(`${o}/`));
}

/** Everything under `root` but `outs`, byte for byte. */
const snapshotOutside = (root: string, outs: string[]) => snapshotTree(root, skipUnder(root, outs));

async function expectUnchanged(what: string, before: Map<string, TreeEntry>, after: Map<string, TreeEntry>): Promise<void> {
  const d = diffTrees(before, after);
  if (d.length) throw new Error(`${what}: ${d.slice(0, 6).join(", ")}`);
}

/** `text` with every occurrence of the longer paths removed, so a shorter path is found on its own. */
function mentions(text: string, p: string, longer: string[] = []): boolean {
  let t = text;
  for (const l of longer) t = t.split(l).join("");
  return t.includes(p);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("reliability: data safety", () => {
  it("data-safety: inputs and foreign files byte-identical, nothing written outside --out, planted links refused, moved studies stay moved", async (tctx) => {
    const tally = new Tally("data-safety", "intact");
    const roots: string[] = [];
    const track = (s: Study): Study => (roots.push(s.root), s);

    try {
      // ---- overlap: --out may not hold (or be inside) the inputs
      await tally.run("overlap: --out is the folder holding the manifest and its inputs", async () => {
        const s = track(newStudy());
        const r1 = path.join(s.root, "r1");
        mkdirSync(r1);
        cpSync(path.join(s.bids, "sub-02"), path.join(r1, "sub-02"), { recursive: true });
        cpSync(path.join(s.bids, "participants.tsv"), path.join(r1, "participants.tsv"));
        const manifest = path.join(r1, "m.json");
        writeFileSync(manifest, JSON.stringify({ subjects: [{ id: "sub-02", nifti: "sub-02/dwi/sub-02_dwi.nii.gz" }] }));
        const before = await snapshotTree(s.root);
        const r = cli(s, ["submit", "--scheduler", "local", "--manifest", manifest, "--out", r1, "--csttool", STANDIN, "--skip-disk-check"]);
        if (r.code !== EXIT.USAGE && r.code !== EXIT.PREFLIGHT) throw new Error(`not refused: exit ${r.code}`);
        const input = path.join(r1, "sub-02", "dwi", "sub-02_dwi.nii.gz");
        const relInput = "sub-02/dwi/sub-02_dwi.nii.gz";
        // The input named by its file or by the folder that holds it (what --out would swallow).
        const named = [input, relInput, path.dirname(input)].some((p) => mentions(r.stderr, p));
        if (!named) throw new Error(`the message does not name the input: ${r.stderr.slice(0, 400)}`);
        if (!mentions(r.stderr, r1, [input, manifest, path.join(r1, "sub-02")])) throw new Error(`the message does not name --out ${r1}: ${r.stderr.slice(0, 400)}`);
        await expectUnchanged("written although refused", before, await snapshotTree(s.root));
      });

      for (const [label, sub] of [["<bids>/sub-02", "sub-02"], ["<bids>", ""]] as const) {
        await tally.run(`overlap: --out ${label} is refused`, async () => {
          const s = track(newStudy());
          const out = path.join(s.bids, sub);
          const before = await snapshotTree(s.root);
          const r = cli(s, submitArgs(s.bids, out));
          if (r.code !== EXIT.USAGE && r.code !== EXIT.PREFLIGHT) throw new Error(`not refused: exit ${r.code}`);
          if (!new RegExp(`${escape(out)}(?![/\\w-])`).test(r.stderr)) throw new Error(`the message does not name --out ${out}: ${r.stderr.slice(0, 400)}`);
          await expectUnchanged("written although refused", before, await snapshotTree(s.root));
        });
      }

      await tally.run("overlap: --out <bids>/derivatives/cst is allowed and leaves the inputs untouched", async () => {
        const s = track(newStudy());
        const out = path.join(s.bids, "derivatives", "cst");
        const outsideOut = (rel: string) => skipUnder(s.root, [out])(rel) || rel === "ds/derivatives";
        const before = await snapshotTree(s.root, outsideOut);
        const r = cli(s, submitArgs(s.bids, out));
        if (r.code !== EXIT.OK) throw new Error(`exit ${r.code}: ${r.stderr.slice(0, 400)}`);
        if (!existsSync(path.join(out, "batch_summary.json"))) throw new Error("no summary in --out");
        await expectUnchanged("inputs or files outside --out changed", before, await snapshotTree(s.root, outsideOut));
      });

      // ---- foreign files in a subject folder: byte-identical, or the run stops naming them
      const foreign: Record<string, (dir: string) => string[]> = {
        "notes.txt": (dir) => {
          writeFileSync(path.join(dir, "notes.txt"), "my notes about this subject\n");
          return ["notes.txt"];
        },
        "qc/ folder": (dir) => {
          mkdirSync(path.join(dir, "qc", "figs"), { recursive: true });
          writeFileSync(path.join(dir, "qc", "rating.tsv"), "rater\tscore\nme\t4\n");
          writeFileSync(path.join(dir, "qc", "figs", "fa.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
          return ["qc", "qc/rating.tsv", "qc/figs", "qc/figs/fa.png"];
        },
        "dwi/my_qc.txt in a result folder": (dir) => {
          mkdirSync(path.join(dir, "dwi"), { recursive: true });
          writeFileSync(path.join(dir, "dwi", "my_qc.txt"), "FA looks fine\n");
          return ["dwi/my_qc.txt"];
        },
      };
      const moments = ["before the first run", "rerun after deleting _done.json", "rerun with a changed option"] as const;
      let foreignIndex = 0;
      for (const moment of moments) {
        for (const [kind, plant] of Object.entries(foreign)) {
          // npm test: two of the nine; CST_RELIABILITY_FULL=1: all.
          const i = foreignIndex++;
          if (!FULL && i !== 0 && i !== 5) continue;
          await tally.run(`foreign file ${kind}, ${moment}`, async () => {
            const s = track(newStudy());
            const subDir = path.join(s.out, "sub-02");
            if (moment !== "before the first run") {
              const first = cli(s, submitArgs(s.bids, s.out));
              if (first.code !== EXIT.OK) throw new Error(`first run: exit ${first.code}: ${first.stderr.slice(0, 300)}`);
            }
            mkdirSync(subDir, { recursive: true });
            const planted = plant(subDir);
            const snapshot = async () => {
              const m = new Map<string, TreeEntry>();
              const all = await snapshotTree(subDir);
              for (const p of planted) if (all.has(p)) m.set(p, all.get(p)!);
              return m;
            };
            const before = await snapshot();
            const outside = await snapshotOutside(s.root, [s.out]);
            if (moment === "rerun after deleting _done.json") rmSync(path.join(subDir, "_done.json"));
            const r = cli(s, submitArgs(s.bids, s.out, ...(moment === "rerun with a changed option" ? ["--fa-thr", "0.3"] : [])));
            await expectUnchanged(`foreign files deleted or modified (exit ${r.code})`, before, await snapshot());
            await expectUnchanged("written outside --out", outside, await snapshotOutside(s.root, [s.out]));
            if (r.code !== EXIT.OK) {
              const named = planted.some((p) => r.stderr.includes(path.join(subDir, p)) || r.stderr.includes(`sub-02/${p}`));
              if (!named) throw new Error(`stopped (exit ${r.code}) without naming the foreign file: ${r.stderr.slice(0, 400)}`);
            } else if (!existsSync(path.join(subDir, "_done.json"))) throw new Error("exit 0 but sub-02 is not done");
          });
        }
      }

      // ---- every layout path replaced by a symlink to a folder/file outside --out
      const ref = track(newStudy({ "sub-02": "fail" }));
      const refRun = cli(ref, submitArgs(ref.bids, ref.out));
      if (refRun.code !== EXIT.SUBJECT_FAILED) throw new Error(`reference run: exit ${refRun.code}: ${refRun.stderr.slice(0, 300)}`);
      cli(ref, ["status", "--out", ref.out, "--no-scheduler"]);
      const refTree = await snapshotTree(ref.out);
      const refTask = readCurrentPlan(ref.out).tasks.find((t) => t.key === "sub-02")!;
      const plants = layoutPaths(ref.out, refTask);
      if (plants.length < 15) throw new Error(`only ${plants.length} layout paths derived`);
      const FAST_PLANTS = new Set(["logs", "sub-02/_failed_attempts", ".cst-batch/events"]);
      for (const missing of FAST_PLANTS) if (!plants.some((p) => p.rel === missing)) throw new Error(`layout no longer defines ${missing}`);
      for (const plant of plants) {
        if (!FULL && !FAST_PLANTS.has(plant.rel)) continue;
        await tally.run(`symlink at ${plant.rel} (${plant.from}) to a place outside --out`, async () => {
          const s = track(newStudy({ "sub-02": "fail" }));
          // A folder or a file, as the reference run left it (or as its name says).
          const isDir = refTree.get(plant.rel)?.type === "dir" || (!refTree.has(plant.rel) && path.extname(plant.rel) === "" && !plant.rel.endsWith("_lock"));
          const outsideDir = path.join(s.root, "outside");
          mkdirSync(outsideDir);
          const target = path.join(outsideDir, isDir ? "victim-dir" : "victim.txt");
          if (isDir) {
            mkdirSync(target);
            writeFileSync(path.join(target, "keep.txt"), "precious\n");
          } else writeFileSync(target, "precious\n");
          const link = path.join(s.out, plant.rel);
          mkdirSync(path.dirname(link), { recursive: true });
          symlinkSync(target, link);
          const outside = await snapshotOutside(s.root, [s.out]);
          const results = [
            cli(s, submitArgs(s.bids, s.out)),
            cli(s, ["status", "--out", s.out, "--no-scheduler"]),
            cli(s, ["collect", "--out", s.out, "--no-scheduler"]),
          ];
          await expectUnchanged("written through the planted link", outside, await snapshotOutside(s.root, [s.out]));
          // A link at a name cst-batch replaces whole (a log, `_done.json`, a report) may be removed
          // or renamed over: never followed (checked above), and then nothing is left to refuse.
          if (!isSymlink(link)) return;
          const line = new RegExp(`^.*(${escape(link)}|${escape(plant.rel)}).*$`, "m");
          const refused = results.some((r) => r.code !== EXIT.OK && r.stderr.split("\n").some((l) => line.test(l) && /link/i.test(l)));
          if (!refused) throw new Error(`no error names the planted link ${plant.rel} (exits ${results.map((r) => r.code).join(", ")}): ${results[0]!.stderr.slice(0, 300)}`);
        });
      }

      // ---- a moved study: nothing appears at its old place
      const moves = FULL ? (["the whole study (inputs and --out)", "--out alone"] as const) : (["the whole study (inputs and --out)"] as const);
      for (const what of moves) {
        await tally.run(`moved study: ${what}, then submit, run-one, status, collect at the new place`, async () => {
          const s = track(newStudy({ "sub-02": "fail" }, "study"));
          const first = cli(s, submitArgs(s.bids, s.out));
          if (first.code !== EXIT.SUBJECT_FAILED) throw new Error(`first run: exit ${first.code}: ${first.stderr.slice(0, 300)}`);
          const old = what === "--out alone" ? s.out : path.dirname(s.out);
          const moved = `${old}-moved`;
          renameSync(old, moved);
          const bids = what === "--out alone" ? s.bids : path.join(moved, "ds");
          const out = what === "--out alone" ? moved : path.join(moved, "out");
          const index = readCurrentPlan(out).tasks.find((t) => t.key === "sub-02")!.index;
          const outside = await snapshotOutside(s.root, [out]);
          const steps: [string, string[]][] = [
            ["run-one", ["run-one", "--plan", out, "--index", String(index)]],
            ["status", ["status", "--out", out, "--no-scheduler"]],
            ["collect", ["collect", "--out", out, "--no-scheduler"]],
            ["submit", submitArgs(bids, out)],
            ["status after submit", ["status", "--out", out, "--no-scheduler", "--json"]],
          ];
          for (const [label, args] of steps) {
            cli(s, args);
            if (existsSync(old) || lstatExists(old)) throw new Error(`${label} wrote at the old place ${old}`);
          }
          await expectUnchanged("written outside the moved --out", outside, await snapshotOutside(s.root, [out]));
        });
      }
    } finally {
      for (const r of roots) await fsp.rm(r, { recursive: true, force: true });
    }
    reportFamily(tctx, tally.figures());
    expect(tally.tried).toBeGreaterThanOrEqual(FULL ? 34 : 10);
    expect(tally.failures).toEqual([]);
  }, 900_000);
});

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
