import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { submissionChunksPath } from "../../src/layout.js";
import { makeDemoBids, readJson, runCli, STANDIN, tempDir } from "../helpers/cli.js";

/**
 * What one array element reads does not grow with the study: submit writes a chunk index beside
 * the submission record, and `run-one --submission --chunk` reads its chunk there (through the
 * built CLI, with a fake sbatch first on PATH).
 */
const FAKE_SBATCH = `#!/bin/sh
case "$1" in --version) echo "slurm 22.05.8"; exit 0 ;; esac
echo 4242
`;

function submitted() {
  const dir = tempDir("cst-e2e-chunks-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  for (const name of ["sbatch", "scontrol", "scancel"]) {
    writeFileSync(path.join(bin, name), name === "sbatch" ? FAKE_SBATCH : "#!/bin/sh\necho 'MaxArraySize = 1001'\n");
    chmodSync(path.join(bin, name), 0o755);
  }
  const out = path.join(dir, "out");
  const env = { PATH: `${bin}:${process.env.PATH ?? ""}` };
  const r = runCli(["submit", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check", "--scheduler", "slurm", "--time", "1h", "--chunk-size", "2"], { env });
  expect(r.code, r.stderr).toBe(EXIT.OK);
  const subs = path.join(out, ".cst-batch", "submissions");
  const record = path.join(subs, readdirSync(subs).find((n) => n.endsWith(".json"))!);
  return { out, env, record };
}

describe("an array element's work does not depend on the study's size", () => {
  it("submit writes the chunk index; run-one --chunk runs that chunk's subjects from it, even when the record itself could not be parsed", () => {
    const s = submitted();
    expect(existsSync(submissionChunksPath(s.record))).toBe(true);
    const submission = readJson<{ chunks: number[][]; plan_path: string }>(s.record);
    expect(submission.chunks.length).toBeGreaterThanOrEqual(2);
    const plan = readFileSync(submission.plan_path, "utf8").trim().split("\n").slice(1).map((l) => JSON.parse(l) as { index: number; key: string });
    const keysOf = (chunk: number[]): string[] => chunk.map((i) => plan.find((t) => t.index === i)!.key);

    // Damage the record's body (keeping it in place): the chunk index alone answers.
    writeFileSync(s.record, readFileSync(s.record, "utf8").replace(/"chunks":/, '"chunks_damaged":'));
    const r = runCli(["run-one", "--submission", s.record, "--chunk", "1", "--json"], { env: s.env });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    for (const key of keysOf(submission.chunks[1]!)) {
      const dir = plan.find((t) => t.key === key)!;
      expect(existsSync(path.join(s.out, ...key.split("_"), "_done.json")), `${key} (${dir.index}) done`).toBe(true);
    }
    for (const key of keysOf(submission.chunks[0]!)) expect(existsSync(path.join(s.out, ...key.split("_"), "_done.json"))).toBe(false);
    const over = runCli(["run-one", "--submission", s.record, "--chunk", String(submission.chunks.length)], { env: s.env });
    expect(over.code).toBe(EXIT.USAGE);
    expect(over.stderr).toMatch(/--chunk \d+ is out of range: submission \S+ has \d+ chunk\(s\)/);
  });
});
