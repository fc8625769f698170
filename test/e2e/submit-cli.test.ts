import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, tempDir } from "../helpers/cli.js";
import { linkBasicTools } from "../helpers/fake-scheduler.js";

/**
 * `submit` flag handling through the built CLI, with fake scheduler programs first on PATH (a
 * folder holding only them plus node: no real sbatch is reachable). Real submissions are in
 * test/slurm/submit-cohort.test.ts.
 */
const FAKE = `#!/bin/sh
echo "\${0##*/} $*" >> "$FAKE_LOG"
case "\${0##*/}" in
  sbatch) [ "$1" = "--version" ] && { echo "slurm 22.05.8"; exit 0; }; echo 4242 ;;
  scontrol) echo "MaxArraySize = 1001" ;;
esac
`;

function setup(withSbatch: boolean) {
  const dir = tempDir("cst-e2e-submit-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  // a PATH without the system's scheduler programs: node and sh only
  linkBasicTools(bin);
  if (withSbatch) {
    for (const name of ["sbatch", "scontrol", "scancel"]) {
      writeFileSync(path.join(bin, name), FAKE);
      chmodSync(path.join(bin, name), 0o755);
    }
  }
  const log = path.join(dir, "calls.log");
  const env = { PATH: bin, FAKE_LOG: log, XDG_CONFIG_HOME: path.join(dir, "xdg") };
  const calls = (): string[] => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);
  return { dir, bids, out: path.join(dir, "out"), env, calls };
}

const base = (s: { bids: string; out: string }) => ["submit", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check"];

describe("submit through the built CLI (fake scheduler programs)", () => {
  it("--dry-run prints the rendered scripts and the exact submit commands, submits and records nothing", () => {
    const s = setup(true);
    const r = runCli([...base(s), "--scheduler", "slurm", "--time", "2h", "--mem", "4G", "--partition", "short", "--setup", "module load csttool", "--dry-run"], { env: s.env });
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain("#SBATCH --array=0-3");
    expect(r.stdout).toContain("#SBATCH --time=0-02:00:00");
    expect(r.stdout).toContain("#SBATCH --mem=4096M");
    expect(r.stdout).toContain("#SBATCH --partition=short");
    expect(r.stdout).toContain("module load csttool");
    expect(r.stdout).toMatch(/^sbatch --parsable \S+array-0\.sh$/m);
    expect(r.stdout).toMatch(/^sbatch --parsable '--dependency=afterany:<job id of array-0>' \S+collect\.sh$/m);
    expect(r.stderr).toMatch(/dry run: would submit 4 task\(s\)/);
    expect(s.calls().filter((c) => c.startsWith("sbatch"))).toEqual([]);
    expect(existsSync(path.join(s.out, ".cst-batch", "submissions"))).toBe(false);
  });

  it("--json dry run gives the scripts and submit argv as data", () => {
    const s = setup(true);
    const r = runCli([...base(s), "--scheduler", "slurm", "--time", "2h", "--dry-run", "--json"], { env: s.env });
    expect(r.code).toBe(EXIT.OK);
    const j = JSON.parse(r.stdout);
    expect(j.kind).toBe("dry-run");
    expect(j.scripts.map((x: { name: string }) => x.name)).toEqual(["array-0", "collect"]);
    expect(j.scripts[0].text).toContain("#!/bin/bash");
    expect(j.timeout_minutes).toBeGreaterThan(100);
  });

  it("--scheduler auto picks slurm when sbatch is on PATH, and says local when nothing is", () => {
    const slurm = setup(true);
    const a = runCli([...base(slurm), "--scheduler", "auto", "--time", "1h", "--dry-run"], { env: slurm.env });
    expect(a.code).toBe(EXIT.OK);
    expect(a.stderr).toMatch(/--scheduler auto: using slurm/);
    const none = setup(false);
    const b = runCli([...base(none), "--dry-run"], { env: none.env });
    expect(b.code).toBe(EXIT.OK);
    expect(b.stderr).toMatch(/--scheduler auto: no sbatch, qsub or bsub on PATH, running locally/);
    expect(b.stderr).toMatch(/dry run: would run 4 of 4 task\(s\) here/);
  });

  it("submits for real: prints the job ids and the watch commands, records the submission", () => {
    const s = setup(true);
    const r = runCli([...base(s), "--scheduler", "slurm", "--time", "1h"], { env: s.env });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stderr).toMatch(/array 0: job 4242/);
    expect(r.stderr).toMatch(/squeue -j 4242,4242/);
    expect(r.stderr).toMatch(/cst-batch status --out/);
    expect(s.calls().filter((c) => c.startsWith("sbatch"))).toHaveLength(2);
    expect(existsSync(path.join(s.out, "logs", "scheduler"))).toBe(true);
  });

  it("bad values are usage errors before planning or submitting: bare --time, too short --time, bad profile key", () => {
    const s = setup(true);
    const bare = runCli([...base(s), "--scheduler", "slurm", "--time", "90"], { env: s.env });
    expect(bare.code).toBe(EXIT.USAGE);
    expect(bare.stderr).toMatch(/--time: a bare number has no unit/);
    const short = runCli([...base(s), "--scheduler", "slurm", "--time", "1m"], { env: s.env });
    expect(short.code).toBe(EXIT.USAGE);
    expect(short.stderr).toMatch(/too short/);
    expect(short.stderr).toMatch(/T = \(W - S - K\*\(G \+ P\)\) \/ K/);
    const profile = path.join(s.dir, "p.json");
    writeFileSync(profile, JSON.stringify({ scheduler: "slurm", partiton: "x" }));
    const bad = runCli([...base(s), "--profile", profile, "--time", "1h"], { env: s.env });
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.stderr).toMatch(/unknown key "partiton" \(valid keys: .*partition/);
    expect(existsSync(path.join(s.out, ".cst-batch"))).toBe(false);
    expect(s.calls().filter((c) => c.startsWith("sbatch --parsable"))).toEqual([]);
  });

  it("the default profile supplies the scheduler and resources; flags override it", () => {
    const s = setup(true);
    mkdirSync(path.join(s.env.XDG_CONFIG_HOME, "cst-batch"), { recursive: true });
    writeFileSync(path.join(s.env.XDG_CONFIG_HOME, "cst-batch", "profile.json"), JSON.stringify({ scheduler: "slurm", time: "3h", partition: "long", mem: "6G" }));
    const r = runCli([...base(s), "--mem", "2G", "--dry-run"], { env: s.env });
    expect(r.code).toBe(EXIT.OK);
    expect(r.stderr).toMatch(/profile: .*profile\.json/);
    expect(r.stdout).toContain("#SBATCH --time=0-03:00:00");
    expect(r.stdout).toContain("#SBATCH --partition=long");
    expect(r.stdout).toContain("#SBATCH --mem=2048M");
    const none = runCli([...base(s), "--no-profile", "--scheduler", "slurm", "--dry-run"], { env: s.env });
    expect(none.stdout).not.toContain("--partition=long");
    expect(none.stderr).toMatch(/no --time given/);
  });
});
