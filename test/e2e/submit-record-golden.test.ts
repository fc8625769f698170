import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { CLI, makeDemoBids, REPO, STANDIN, tempDir } from "../helpers/cli.js";
import { linkBasicTools } from "../helpers/fake-scheduler.js";
import { fakeSlurm } from "../helpers/fake-slurm.js";

/**
 * The submission record and the job scripts `submit` writes, byte for byte, against golden files
 * recorded by the cst-batch before submit streamed the plan and the subject folders (and
 * rendered the record's chunk list once): two submits of the demo study through the built CLI
 * with fake Slurm programs, the second after one subject finished and one `_done.json` was
 * damaged, in three array jobs (--max-array-size 2). What varies from run to run (the temp
 * folder, the submission id and time, the plan id, node and the package's path) is replaced by
 * a name before comparing (this checkout's path too: the stand-in csttool is in the command line).
 *
 * `UPDATE_GOLDEN=1` rewrites the files; `CST_GOLDEN_CLI=<bin/cst-batch.js>` records them with
 * another build (how they were made: with main's build before the change).
 */
const GOLDEN_DIR = fileURLToPath(new URL("../fixtures/submit-golden/", import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const cli = UPDATE && process.env.CST_GOLDEN_CLI ? process.env.CST_GOLDEN_CLI : CLI;

function run(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [cli, ...args], { env: { ...env, NO_COLOR: "1" }, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function normalise(text: string, dir: string): string {
  return text
    .split(dir)
    .join("<DIR>")
    .split(process.execPath)
    .join("<NODE>")
    .split(path.resolve(path.dirname(cli), ".."))
    .join("<PKG>")
    .split(REPO)
    .join("<PKG>")
    .replace(/\d{8}-\d{6}-[0-9a-f]{4}/g, "<SUBMISSION>")
    .replace(/"created_at": "[^"]+"/g, '"created_at": "<TIME>"')
    .replace(/\b[0-9a-f]{16,64}\b/g, "<PLAN>");
}

function expectGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  expect(existsSync(file), `golden file ${file} is missing (UPDATE_GOLDEN=1 to record it)`).toBe(true);
  expect(actual, `${name} differs from ${file}`).toBe(readFileSync(file, "utf8"));
}

function records(out: string): string[] {
  return readdirSync(path.join(out, ".cst-batch", "submissions")).filter((f) => f.endsWith(".json"));
}

/** The submission recorded since `before`: its record and scripts, normalised, by file name. */
function newSubmission(out: string, dir: string, before: readonly string[]): Record<string, string> {
  const subs = path.join(out, ".cst-batch", "submissions");
  const made = records(out).filter((f) => !before.includes(f));
  expect(made).toHaveLength(1);
  const id = made[0]!.replace(/\.json$/, "");
  const files: Record<string, string> = { "record.json": normalise(readFileSync(path.join(subs, `${id}.json`), "utf8"), dir) };
  for (const f of readdirSync(path.join(subs, id)).filter((n) => n.endsWith(".sh")).sort()) files[f] = normalise(readFileSync(path.join(subs, id, f), "utf8"), dir);
  return files;
}

describe("submit writes the same record and scripts as before (golden files)", () => {
  it("a first submit and a resubmit of the rest, in three array jobs, match the recorded files byte for byte", () => {
    const dir = tempDir("cst-e2e-submit-golden-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const bin = fakeSlurm(dir);
    linkBasicTools(bin);
    // the fake programs find their folder and name, and count sbatch's job ids (1001, 1002, ...), with these
    for (const tool of ["cat", "dirname", "basename"]) writeFileSync(path.join(bin, tool), `#!/bin/sh\nexec /usr/bin/env -S PATH=/usr/bin:/bin ${tool} "$@"\n`, { mode: 0o755 });
    const env = { PATH: bin, XDG_CONFIG_HOME: path.join(dir, "xdg"), HOME: dir };
    const out = path.join(dir, "out");
    const submit = ["submit", "--scheduler", "slurm", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--max-array-size", "2", "--chunk-size", "1", "--time", "1h", "--mem", "2G"];

    const first = run(submit, env);
    expect(first.code, first.stderr).toBe(EXIT.OK);
    const firstFiles = newSubmission(out, dir, []);
    expect(Object.keys(firstFiles)).toEqual(["record.json", "array-0.sh", "array-1.sh", "collect.sh"]);
    for (const [name, text] of Object.entries(firstFiles)) expectGolden(`first-${name}`, text);

    // Element 0 runs (its subject is done), another subject's `_done.json` is damaged.
    const before = records(out);
    const record = path.join(out, ".cst-batch", "submissions", before[0]!);
    const one = run(["run-one", "--submission", record, "--chunk", "0"], env);
    expect(one.code, one.stderr).toBe(EXIT.OK);
    const damaged = JSON.parse(readFileSync(record, "utf8")) as { chunks: number[][] };
    expect(damaged.chunks.length).toBe(4);
    const plan = readFileSync(path.join(out, ".cst-batch", "plan.jsonl"), "utf8").split("\n").filter(Boolean).slice(1).map((l) => JSON.parse(l) as { index: number; output_dir?: string; key: string });
    const third = plan.find((t) => t.index === 2)!;
    mkdirSync(path.join(out, third.output_dir ?? third.key), { recursive: true });
    writeFileSync(path.join(out, third.output_dir ?? third.key, "_done.json"), "{ not json");

    const again = run([...submit, "--json"], env);
    expect(again.code, again.stderr).toBe(EXIT.OK);
    const doc = JSON.parse(again.stdout) as { tasks: number; notes: string[]; problems: string[] };
    expect(doc.tasks).toBe(3);
    expect(doc.notes.join("\n")).toContain("1 task(s) already done");
    expect(doc.problems.join("\n")).toContain("_done.json");
    const secondFiles = newSubmission(out, dir, before);
    for (const [name, text] of Object.entries(secondFiles)) expectGolden(`second-${name}`, text);
  });
});
