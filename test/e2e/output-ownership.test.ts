import { describe, expect, it } from "vitest";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EXIT } from "../../src/errors.js";
import { studyPaths, taskPaths } from "../../src/layout.js";
import { makeDemoBids, readJson, runCli, STANDIN, tempDir } from "../helpers/cli.js";

function setup() {
  const dir = tempDir("cst-own-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const out = path.join(dir, "out");
  const config = path.join(dir, "standin.json");
  writeFileSync(config, "{}");
  const submit = (...extra: string[]) =>
    runCli(["submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--jobs", "2", ...extra], {
      env: { CSTTOOL_STANDIN_CONFIG: config },
    });
  return { dir, bids, out, config, submit };
}

/** The user's files in a subject folder: a note, a QC folder and a file inside a result folder. */
function plantForeign(subjectDir: string): Record<string, string> {
  const files: Record<string, string> = {
    "notes.txt": "sub-02 moved during the second run\n",
    "qc/rating.tsv": "subject\trating\nsub-02\t3\n",
    "dwi/my_qc.txt": "visual QC: ok\n",
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(subjectDir, rel)), { recursive: true });
    writeFileSync(path.join(subjectDir, rel), text);
  }
  return files;
}

function expectIntact(subjectDir: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) expect(readFileSync(path.join(subjectDir, rel), "utf8")).toBe(text);
}

describe("cst-batch deletes or overwrites only what it created", () => {
  it("keeps a user's files in a subject folder on the first run, a rerun and a rerun after _done.json was moved away", () => {
    const s = setup();
    const sub = path.join(s.out, "sub-02");
    const mine = plantForeign(sub);
    expect(s.submit().code).toBe(EXIT.OK);
    expectIntact(sub, mine);
    expect(readJson(path.join(sub, "_done.json")).files).not.toContainEqual(expect.objectContaining({ path: "notes.txt" }));

    // A changed option reruns every subject: the previous results are replaced, the user's files stay.
    expect(s.submit("--fa-thr", "0.3").code).toBe(EXIT.OK);
    expectIntact(sub, mine);

    // A user forces a rerun by moving _done.json away: cst-batch still knows its own files.
    rmSync(path.join(sub, "_done.json"));
    expect(s.submit("--fa-thr", "0.3").code).toBe(EXIT.OK);
    expectIntact(sub, mine);
    const done = readJson(path.join(sub, "_done.json")) as { files: { path: string }[] };
    for (const f of done.files) expect(existsSync(path.join(sub, f.path))).toBe(true);
  });

  it("stops before touching anything when a result would replace a file cst-batch did not create, and adopts it only when asked", () => {
    const s = setup();
    const sub = path.join(s.out, "sub-02");
    // A previous tool's output at the very path csttool writes.
    const clash = path.join(sub, "dwi", "sub-02_model-DTI_param-FA_dwimap.json");
    mkdirSync(path.dirname(clash), { recursive: true });
    writeFileSync(clash, '{"from": "another tool"}\n');
    const first = s.submit();
    expect(first.code).toBe(EXIT.SUBJECT_FAILED);
    expect(readFileSync(clash, "utf8")).toBe('{"from": "another tool"}\n');
    expect(existsSync(path.join(sub, "_done.json"))).toBe(false);
    // The other subjects are done; the error names the file and both ways out.
    expect(readJson(path.join(s.out, "batch_summary.json")).counts).toMatchObject({ success: 3, failed: 1 });
    const errorLog = readFileSync(path.join(s.out, "logs", "sub-02_error.log"), "utf8");
    expect(errorLog).toContain(clash);
    expect(errorLog).toMatch(/did not create/);
    expect(errorLog).toMatch(/--adopt-existing/);
    // csttool's output is not lost: it is kept with the failed attempt.
    const attempts = readdirSync(path.join(sub, "_failed_attempts"));
    expect(attempts).toHaveLength(1);

    const adopted = s.submit("--adopt-existing");
    expect(adopted.code).toBe(EXIT.OK);
    expect(readFileSync(clash, "utf8")).not.toContain("another tool");
    expect(existsSync(path.join(sub, "_done.json"))).toBe(true);
  });
});

describe("collect overwrites only the study-level files cst-batch wrote", () => {
  it("leaves a project folder's own participants.tsv and dataset_description.json byte-identical, and says so", () => {
    const s = setup();
    mkdirSync(s.out, { recursive: true });
    const own = {
      "participants.tsv": "participant_id\tage\tsex\nsub-01\t34\tF\nsub-02\t41\tM\nsub-04\t50\tF\n",
      "dataset_description.json": '{"Name": "my project", "BIDSVersion": "1.9.0"}\n',
    };
    for (const [name, text] of Object.entries(own)) writeFileSync(path.join(s.out, name), text);
    const r = s.submit();
    expect(r.code).toBe(EXIT.OK);
    for (const [name, text] of Object.entries(own)) expect(readFileSync(path.join(s.out, name), "utf8")).toBe(text);
    expect(r.stderr).toContain(`${path.join(s.out, "participants.tsv")} was not written by cst-batch`);
    // Everything else is collected, and the summary lists what was left alone.
    const summary = readJson(path.join(s.out, "batch_summary.json")) as { counts: object; problems: string[] };
    expect(summary.counts).toMatchObject({ success: 4 });
    expect(summary.problems.some((p) => p.includes("dataset_description.json was not written by cst-batch"))).toBe(true);
    const again = runCli(["collect", "--out", s.out, "--json"]);
    expect(again.code).toBe(EXIT.OK);
    for (const [name, text] of Object.entries(own)) expect(readFileSync(path.join(s.out, name), "utf8")).toBe(text);
  });

  it("keeps rewriting its own files, also after a user edited none of them", () => {
    const s = setup();
    expect(s.submit().code).toBe(EXIT.OK);
    writeFileSync(s.config, JSON.stringify({ "sub-03": "fail" }));
    rmSync(path.join(s.out, "sub-03", "_done.json"));
    expect(s.submit().code).toBe(EXIT.SUBJECT_FAILED);
    expect(readFileSync(path.join(s.out, "participants.tsv"), "utf8")).toBe("participant_id\tn_sessions\nsub-01\t2\nsub-02\t1\n");
    expect(readJson(path.join(s.out, "dataset_description.json")).GeneratedBy).toContainEqual(expect.objectContaining({ Name: "cst-batch" }));
  });
});

describe("no write leaves --out through a planted symbolic link", () => {
  /** Every path the layout defines for the study and for one subject (sub-02, which fails). */
  function layoutPaths(out: string): string[] {
    const t = taskPaths(out, { output_dir: "sub-02", key: "sub-02" });
    const { out: _root, ...perTask } = t;
    return [...studyPaths(out), ...Object.values(perTask)];
  }

  it("refuses a link at every path of the layout, names it, and writes nothing outside", () => {
    const probe = tempDir("cst-own-probe-");
    const paths = layoutPaths(path.join(probe, "out"));
    expect(paths.length).toBeGreaterThanOrEqual(15);
    for (const rel of paths.map((p) => path.relative(path.join(probe, "out"), p))) {
      const s = setup();
      writeFileSync(s.config, JSON.stringify({ "sub-02": "fail" }));
      const elsewhere = path.join(s.dir, "elsewhere");
      mkdirSync(path.join(elsewhere, "folder"), { recursive: true });
      writeFileSync(path.join(elsewhere, "file"), "not cst-batch's\n");
      const link = path.join(s.out, rel);
      mkdirSync(path.dirname(link), { recursive: true });
      // A folder of the layout gets a link to a folder, a file a link to a file.
      const isFolder = !path.extname(rel) && !/_lock$/.test(rel);
      symlinkSync(path.join(elsewhere, isFolder ? "folder" : "file"), link);
      const before = snapshotTreeSync(elsewhere);
      const r = s.submit();
      expect({ rel, changed: diff(before, snapshotTreeSync(elsewhere)) }).toEqual({ rel, changed: [] });
      expect(r.stderr, rel).not.toMatch(/at .*\.js:\d+/);
      // A link cst-batch left in place was refused, and the refusal names it (a managed name such
      // as `_work` or `_done.json` may instead be removed or replaced: the link, never its target).
      const status = runCli(["status", "--out", s.out]);
      expect({ rel, changed: diff(before, snapshotTreeSync(elsewhere)) }).toEqual({ rel, changed: [] });
      if (isLink(link)) expect(`${r.stderr}\n${status.stderr}\n${status.stdout}`, rel).toContain(link);
      rmSync(s.dir, { recursive: true, force: true });
    }
  }, 300_000);
});

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Name, size and content of every file under `root` (links listed, not followed). */
function snapshotTreeSync(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else out.set(r, e.isSymbolicLink() ? "link" : readFileSync(path.join(root, r), "utf8"));
    }
  };
  walk("");
  return out;
}

function diff(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}
