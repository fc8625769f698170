import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, tempDir } from "../helpers/cli.js";
import { linkBasicTools } from "../helpers/fake-scheduler.js";

/**
 * `--json` holds on every outcome: usage errors (exit 2) and scheduler failures (exit 6) print one
 * JSON error document on stdout, as successes print theirs. Fake scheduler programs first on a
 * PATH that holds nothing else of a scheduler.
 */
function setup(sbatch: string) {
  const dir = tempDir("cst-e2e-json-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  linkBasicTools(bin);
  const fakes: Record<string, string> = {
    sbatch: `#!/bin/sh\n${sbatch}\n`,
    scontrol: "#!/bin/sh\necho 'MaxArraySize            = 1001'\n",
    scancel: "#!/bin/sh\nexit 0\n",
    squeue: "#!/bin/sh\nexit 0\n",
  };
  for (const [name, text] of Object.entries(fakes)) {
    writeFileSync(path.join(bin, name), text);
    chmodSync(path.join(bin, name), 0o755);
  }
  const env = { PATH: bin, XDG_CONFIG_HOME: path.join(dir, "xdg") };
  return { dir, bids, out: path.join(dir, "out"), env };
}

interface ErrorDoc {
  kind: string;
  error: { code: string; message: string; exit_code: number; details: string[]; hint: string | null };
}

function errorDoc(stdout: string): ErrorDoc {
  const doc = JSON.parse(stdout) as ErrorDoc;
  expect(doc.kind).toBe("error");
  return doc;
}

const base = (s: { bids: string; out: string }) => ["submit", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check", "--json"];

describe("--json on every outcome through the built CLI", () => {
  it("usage errors print an error object with code USAGE and exit 2: unknown flag, bad value, missing required flag", () => {
    const s = setup("echo 4242");
    const unknown = runCli([...base(s), "--scheduler", "slurm", "--no-such-flag"], { env: s.env });
    expect(unknown.code).toBe(EXIT.USAGE);
    expect(errorDoc(unknown.stdout).error).toMatchObject({ code: "USAGE", exit_code: 2, message: expect.stringMatching(/unknown option '--no-such-flag'/) });

    const bad = runCli([...base(s), "--scheduler", "slurm", "--time", "1h", "--array-throttle", "0"], { env: s.env });
    expect(bad.code).toBe(EXIT.USAGE);
    expect(errorDoc(bad.stdout).error).toMatchObject({ code: "USAGE", exit_code: 2, message: expect.stringMatching(/--array-throttle must be a whole number >= 1/) });

    const missing = runCli(["status", "--json"], { env: s.env });
    expect(missing.code).toBe(EXIT.USAGE);
    expect(errorDoc(missing.stdout).error).toMatchObject({ code: "USAGE", exit_code: 2 });

    const runOne = runCli(["run-one", "--plan", path.join(s.dir, "no-such-plan.json"), "--index", "0", "--json"], { env: s.env });
    expect(runOne.code).toBe(EXIT.USAGE);
    expect(errorDoc(runOne.stdout).error).toMatchObject({ code: expect.any(String), exit_code: 2, message: expect.stringMatching(/no-such-plan\.json/) });

    // without --json stdout stays empty
    const plain = runCli(["submit", "--bids-dir", s.bids, "--out", s.out, "--no-such-flag"], { env: s.env });
    expect(plain.code).toBe(EXIT.USAGE);
    expect(plain.stdout).toBe("");
  });

  it("a failing sbatch is a scheduler failure: exit 6 with an error object holding sbatch's own message", () => {
    const s = setup("echo 'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified' >&2; exit 1");
    const r = runCli([...base(s), "--scheduler", "slurm", "--time", "1h"], { env: s.env });
    expect(r.code).toBe(EXIT.SYSTEM);
    const doc = errorDoc(r.stdout);
    expect(doc.error.code).toBe("SCHEDULER");
    expect(doc.error.exit_code).toBe(6);
    expect(JSON.stringify(doc.error)).toMatch(/Invalid account/);
  });

  it("--max-array-size above the site's MaxArraySize names the limit before anything is submitted", () => {
    const s = setup("echo 4242");
    const r = runCli([...base(s), "--scheduler", "slurm", "--time", "1h", "--max-array-size", "5000"], { env: s.env });
    expect(r.code).toBe(EXIT.USAGE);
    expect(errorDoc(r.stdout).error.message).toMatch(/--max-array-size 5000 is above this cluster's MaxArraySize = 1001/);
    expect(r.stderr).toMatch(/MaxArraySize = 1001/);
    expect(existsSync(path.join(s.out, ".cst-batch", "submissions"))).toBe(false);
  });

  it("after a real submit the printed and recorded submit commands hold the job ids, not placeholders", () => {
    const s = setup("echo $$");
    const r = runCli([...base(s), "--scheduler", "slurm", "--time", "1h", "--max-array-size", "2", "--array-throttle", "1"], { env: s.env });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const j = JSON.parse(r.stdout);
    expect(r.stdout).not.toContain("<job id");
    const ids: string[] = j.job_ids;
    expect(ids).toHaveLength(2);
    // throttle 1 over two arrays: one lane, the second array after the first
    expect(j.scripts[1].submit_argv).toContain(`--dependency=afterany:${ids[0]}`);
    expect(j.scripts[2].submit_argv).toContain(`--dependency=afterany:${ids.join(":")}`);
    expect(j.submission.collect.submit_argv).toEqual(j.scripts[2].submit_argv);
  });
});
