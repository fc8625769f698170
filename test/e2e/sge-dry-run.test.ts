import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, tempDir } from "../helpers/cli.js";
import { linkBasicTools } from "../helpers/fake-scheduler.js";

/**
 * `--scheduler sge|auto` through the built CLI without a Grid Engine: `qstat` and `qsub` faked on
 * a PATH without sbatch. `qstat --version` replays what the real Son of Grid Engine 8.1.9 printed
 * (test/fixtures/schedulers/sge/qstat_version.txt: its usage, exit 1) or PBS Pro's
 * (test/fixtures/schedulers/pbs/qstat_version.txt). The real Grid Engine runs are test/sge/.
 */
const FIXTURES = fileURLToPath(new URL("../fixtures/schedulers/", import.meta.url));

function fakeQstat(dir: string, answer: "sge" | "pbs", maxAjTasks = 75000): Record<string, string> {
  const bin = path.join(dir, `fakebin-${answer}-${maxAjTasks}`);
  mkdirSync(bin, { recursive: true });
  linkBasicTools(bin);
  copyFileSync(path.join(FIXTURES, answer, "qstat_version.txt"), path.join(bin, "qstat_version.txt"));
  writeFileSync(path.join(bin, "calls.log"), "");
  const exit = answer === "sge" ? 1 : 0;
  writeFileSync(path.join(bin, "qstat"), `#!/bin/sh\necho "qstat $*" >> "\${0%/*}/calls.log"\n/bin/cat "\${0%/*}/qstat_version.txt"\nexit ${exit}\n`);
  writeFileSync(path.join(bin, "qsub"), `#!/bin/sh\necho "qsub $*" >> "\${0%/*}/calls.log"\nexit 1\n`);
  // the global configuration's array limit (qconf -sconf prints max_aj_tasks 75000 on the real one)
  writeFileSync(path.join(bin, "qconf"), `#!/bin/sh\necho "qconf $*" >> "\${0%/*}/calls.log"\nprintf 'max_aj_instances             2000\\nmax_aj_tasks                 ${maxAjTasks}\\n'\n`);
  for (const f of ["qstat", "qsub", "qconf"]) chmodSync(path.join(bin, f), 0o755);
  return { PATH: bin, XDG_CONFIG_HOME: path.join(dir, "xdg") };
}

function setup(prefix: string) {
  const dir = tempDir(prefix);
  return { dir, bids: makeDemoBids(path.join(dir, "bids")), out: path.join(dir, "out") };
}

const base = (s: { bids: string; out: string }) => ["submit", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check", "--no-profile"];

describe("--scheduler sge through the built CLI without a Grid Engine (dry runs and bad input)", () => {
  it("auto tells Grid Engine (qstat usage headed SGE 8.1.9) from PBS Pro (pbs_version =); the dry-run script holds #$ -t 1-N, -tc, h_rt/s_rt, the memory resource, -notify, -V, -cwd, -o/-e; the log folder comes first, collect waits with -hold_jid; nothing is written", () => {
    const s = setup("cst-e2e-sge-dry-");
    const sge = runCli([...base(s), "--scheduler", "auto", "--time", "2h", "--mem", "4G", "--array-throttle", "2", "--dry-run"], { env: fakeQstat(s.dir, "sge") });
    expect(sge.code, sge.stderr).toBe(EXIT.OK);
    expect(sge.stderr).toMatch(/--scheduler auto: using sge \(qstat --version: SGE 8\.1\.9\)/);
    const logs = path.join(s.out, "logs", "scheduler");
    for (const line of ["#$ -t 1-4", "#$ -tc 2", "#$ -l h_rt=02:00:00", "#$ -l s_rt=01:55:00", "#$ -l mem_free=4096M", "#$ -notify", "#$ -V", "#$ -cwd", `#$ -o ${logs}/`, `#$ -e ${logs}/`, "index=$(( SGE_TASK_ID - 1 ))"]) {
      expect(sge.stdout).toContain(`${line}\n`);
    }
    const commands = sge.stdout.slice(sge.stdout.indexOf("submit commands"));
    expect(commands.split("\n").slice(1, 4)).toEqual([`mkdir -p ${logs}`, expect.stringMatching(/^qsub -terse \S+array-0\.sh$/), expect.stringMatching(/^qsub -terse -hold_jid '<job id of array-0>' \S+collect\.sh$/)]);
    expect(existsSync(s.out)).toBe(false);

    // a site's max_aj_tasks below the cohort: two array jobs (3 + 1 tasks), collect waits for both
    const split = runCli([...base(s), "--scheduler", "sge", "--time", "2h", "--dry-run", "--json"], { env: fakeQstat(s.dir, "sge", 3) });
    expect(split.code, split.stderr).toBe(EXIT.OK);
    const sj = JSON.parse(split.stdout) as { scripts: Array<{ name: string; text: string; submit_argv: string[] }>; submission: { resources: { max_array_size: number; max_array_size_source: string } } };
    expect(sj.submission.resources).toMatchObject({ max_array_size: 3, max_array_size_source: "qconf" });
    expect(sj.scripts.map((x) => [x.name, /^#\$ -t (.*)$/m.exec(x.text)?.[1] ?? null])).toEqual([["array-0", "1-3"], ["array-1", "1-1"], ["collect", null]]);
    expect(sj.scripts[2]!.submit_argv.slice(0, 4)).toEqual(["qsub", "-terse", "-hold_jid", "<job id of array-0>,<job id of array-1>"]);
    expect(existsSync(s.out)).toBe(false);

    const pbs = runCli([...base(s), "--scheduler", "auto", "--time", "2h", "--dry-run", "--json"], { env: fakeQstat(s.dir, "pbs") });
    expect(pbs.code, pbs.stderr).toBe(EXIT.OK);
    expect((JSON.parse(pbs.stdout) as { scheduler: string }).scheduler).toBe("pbs");
    expect(existsSync(s.out)).toBe(false);
  }, 120_000);

  it("h_vmem from the profile is asked per slot with a warning (human and --json); --cpus without the profile's sge_pe, --qos, a job name or an --out Grid Engine cannot hold are usage errors (exit 2) naming expected, found and the fix", () => {
    const s = setup("cst-e2e-sge-bad-");
    const env = fakeQstat(s.dir, "sge");
    const profile = path.join(s.dir, "profile.json");
    writeFileSync(profile, JSON.stringify({ scheduler: "sge", sge_memory_resource: "h_vmem", sge_pe: "smp" }));
    const withProfile = ["submit", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check", "--profile", profile, "--time", "1h", "--dry-run"];
    const pe = runCli([...withProfile, "--cpus", "4", "--mem", "8G", "--json"], { env });
    expect(pe.code, pe.stderr).toBe(EXIT.OK);
    const j = JSON.parse(pe.stdout) as { warnings: string[]; scripts: Array<{ text: string }> };
    expect(j.warnings.join("\n")).toMatch(/h_vmem is a per-slot limit on virtual memory: each task asks for h_vmem=2048M x 4 slots/);
    expect(j.scripts[0]!.text).toContain("#$ -pe smp 4\n");
    expect(j.scripts[0]!.text).toContain("#$ -l h_vmem=2048M\n");
    const human = runCli([...withProfile, "--cpus", "4", "--mem", "8G"], { env });
    expect(human.code, human.stderr).toBe(EXIT.OK);
    expect(`${human.stdout}\n${human.stderr}`).toMatch(/warning: Grid Engine h_vmem is a per-slot limit/);

    const noPe = runCli([...base(s), "--scheduler", "sge", "--time", "1h", "--cpus", "4", "--dry-run", "--json"], { env });
    expect(noPe.code).toBe(EXIT.USAGE);
    const e = (JSON.parse(noPe.stdout) as { error: { message: string; details: string[]; hint: string } }).error;
    expect(e.message).toMatch(/--cpus 4 needs a Grid Engine parallel environment/);
    expect(e.details).toEqual([expect.stringMatching(/^expected: profile key "sge_pe"/), "found: none"]);
    expect(e.hint).toMatch(/"sge_pe": "smp"/);

    const name = runCli([...base(s), "--scheduler", "sge", "--time", "1h", "--job-name", "my study", "--dry-run"], { env });
    expect(name.code).toBe(EXIT.USAGE);
    expect(name.stderr).toMatch(/the job name \(--job-name\) cannot be written on a Grid Engine #\$ directive line: "my study"/);
    expect(name.stderr).toMatch(/found: "my study" \(first character not allowed: " "\)/);

    const qos = runCli([...base(s), "--scheduler", "sge", "--time", "1h", "--qos", "high", "--dry-run", "--json"], { env });
    expect(qos.code).toBe(EXIT.USAGE);
    expect((JSON.parse(qos.stdout) as { error: { message: string; details: string[] } }).error).toMatchObject({ message: "--qos is a Slurm option; Grid Engine has no QOS", details: [expect.stringMatching(/^expected: no --qos/), 'found: "high"'] });

    const spaced = path.join(s.dir, "my study");
    const out = runCli(["submit", "--bids-dir", s.bids, "--out", spaced, "--csttool", STANDIN, "--skip-disk-check", "--no-profile", "--scheduler", "sge", "--time", "1h", "--dry-run", "--json"], { env });
    expect(out.code).toBe(EXIT.USAGE);
    const oe = (JSON.parse(out.stdout) as { error: { message: string; details: string[]; hint: string } }).error;
    expect(oe.message).toMatch(/scheduler log folder \(under --out/);
    expect(oe.details[1]).toMatch(/^found: ".*my study\/logs\/scheduler"/);
    expect(oe.hint).toMatch(/--out path/);
    for (const dir of [s.out, spaced]) expect(existsSync(dir)).toBe(false);
  }, 120_000);
});
