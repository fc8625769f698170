import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, readJson, runCli, startCli, STANDIN, tempDir } from "../helpers/cli.js";
import { readCurrentPlan } from "../helpers/plan-file.js";
import { fakeLsf } from "../helpers/fake-lsf.js";

/**
 * `--scheduler lsf` through the built CLI, LSF's programs faked on PATH and replaying outputs
 * recorded on real clusters (test/fixtures/schedulers/lsf/README.md): bsub answers the recorded
 * submit lines (ids 764254593 for the array, 2329803 for collect), bjobs the rows below, bkill the
 * recorded bkill line. LSF itself cannot run here.
 */

const BSUB_W = "jobid jobindex stat exit_code run_time max_mem exec_host exit_reason delimiter='|'";

/**
 * bjobs's answer for the submitted array 764254593, in cst-batch's column order: elements 1 and 2
 * carry the recorded reasons and exit codes (TERM_RUNLIMIT / 140 and TERM_MEMLIMIT / 137 from the
 * DTU job reports, the run-limit wording as bjobs printed it on lxplus), 3 and 4 are pending as
 * the recorded PEND rows. Assembled (no array rows with jobindex were found recorded), see the README.
 */
const BJOBS_KILLED = [
  "764254593|1|EXIT|140|-|-|b681e480bd|TERM_RUNLIMIT: job killed after reaching LSF run time limit",
  "764254593|2|EXIT|137|-|-|n-62-23-29|TERM_MEMLIMIT: job killed after reaching LSF memory usage limit",
  "764254593|3|PEND|-|-|-|-|-",
  "764254593|4|PEND|-|-|-|-|-",
].join("\n");

function setup(prefix: string) {
  const dir = tempDir(prefix);
  const bids = makeDemoBids(path.join(dir, "bids"));
  const lsf = fakeLsf(dir);
  return { dir, bids, out: path.join(dir, "out"), ...lsf };
}

const base = (s: { bids: string; out: string }) => ["submit", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check"];

describe("--scheduler lsf through the built CLI (bsub/bjobs/bkill faked with recorded outputs)", () => {
  it("auto picks lsf when bsub is on PATH; --dry-run prints the #BSUB scripts and `bsub < script`, submits and writes nothing; the profile's lsf_unit_for_limits sets the memory unit", () => {
    const s = setup("cst-e2e-lsf-dry-");
    const r = runCli([...base(s), "--scheduler", "auto", "--time", "2h", "--mem", "4G", "--queue", "normal", "--dry-run"], { env: s.env });
    expect(r.code, r.stderr).toBe(EXIT.OK);
    expect(r.stderr).toMatch(/--scheduler auto: using lsf \(bsub -V/);
    for (const line of ['#BSUB -J "cst-batch[1-4]"', "#BSUB -W 2:00", "#BSUB -n 1", "#BSUB -M 4194304", '#BSUB -R "rusage[mem=4096]"', '#BSUB -q "normal"', "index=$(( LSB_JOBINDEX - 1 ))"]) {
      expect(r.stdout).toContain(line);
    }
    expect(r.stdout).toMatch(/^bsub < \S+array-0\.sh$/m);
    expect(r.stdout).toMatch(/^bsub -w 'ended\(<job id of array-0>\)' < \S+collect\.sh$/m);
    expect(s.calls().filter((c) => c.startsWith("bsub "))).toEqual(["bsub -V"]);
    expect(existsSync(path.join(s.out, ".cst-batch", "submissions"))).toBe(false);

    mkdirSync(path.join(s.dir, "xdg", "cst-batch"), { recursive: true });
    writeFileSync(path.join(s.dir, "xdg", "cst-batch", "profile.json"), JSON.stringify({ scheduler: "lsf", lsf_unit_for_limits: "GB" }));
    const g = runCli([...base(s), "--time", "2h", "--mem", "4G", "--dry-run"], { env: s.env });
    expect(g.code, g.stderr).toBe(EXIT.OK);
    expect(g.stdout).toContain("#BSUB -M 4\n");
    expect(g.stdout).toContain('#BSUB -R "rusage[mem=4]"');
  }, 120_000);

  it("submit records the recorded job ids, bsub read each script on stdin, collect waits with -w ended(<array>); status maps TERM_RUNLIMIT / TERM_MEMLIMIT to TIMEOUT / OUT_OF_MEMORY from one bjobs query, records the verdict, and names resubmit with --time-factor / --mem-factor; cancel bkills the queued elements by their LSF names", () => {
    const s = setup("cst-e2e-lsf-run-");
    const sub = runCli([...base(s), "--scheduler", "lsf", "--time", "2h", "--mem", "4G", "--no-profile", "--json"], { env: s.env });
    expect(sub.code, sub.stderr).toBe(EXIT.OK);
    const subDir = path.join(s.out, ".cst-batch", "submissions");
    const [recFile] = readdirSync(subDir).filter((f) => f.endsWith(".json"));
    const rec = readJson<{ shards: Array<{ job_id: string; script: string; submit_argv: string[] }>; collect: { job_id: string; script: string; submit_argv: string[] } }>(path.join(subDir, recFile!));
    expect(rec.shards.map((x) => x.job_id)).toEqual(["764254593"]);
    expect(rec.collect.job_id).toBe("2329803");
    expect(rec.shards[0]!.submit_argv).toEqual(["bsub", "<", rec.shards[0]!.script]);
    expect(rec.collect.submit_argv).toEqual(["bsub", "-w", "ended(764254593)", "<", rec.collect.script]);
    expect(s.calls().filter((c) => c.startsWith("bsub"))).toEqual(["bsub ", "bsub -w ended(764254593)"]);
    expect(readFileSync(path.join(s.bin, "bsub-stdin-1.sh"), "utf8")).toBe(readFileSync(rec.shards[0]!.script, "utf8"));
    expect(readFileSync(path.join(s.bin, "bsub-stdin-2.sh"), "utf8")).toBe(readFileSync(rec.collect.script, "utf8"));
    expect(existsSync(path.join(s.out, "logs"))).toBe(true);

    writeFileSync(path.join(s.bin, "bjobs.out"), `${BJOBS_KILLED}\n`);
    // as when one id of the query has left LSF's memory: bjobs exits 255 and says so on stderr, and still lists the rows it has
    writeFileSync(path.join(s.bin, "bjobs.err"), "Job <6065212> is not found\n");
    const before = s.calls().length;
    const st = runCli(["status", "--out", s.out, "--json"], { env: s.env });
    expect(st.code, st.stderr).toBe(EXIT.OK);
    rmSync(path.join(s.bin, "bjobs.err"));
    const j = JSON.parse(st.stdout);
    expect(j.scheduler.sources).toEqual([expect.objectContaining({ scheduler: "lsf", source: "bjobs", note: null })]);
    const bjobsCalls = s.calls().slice(before).filter((c) => c.startsWith("bjobs"));
    expect(bjobsCalls).toEqual([`bjobs -a -noheader -o ${BSUB_W} 764254593`]);
    const byJob = new Map<string, { key: string; state: string; category: string | null; scheduler_log_path: string | null }>(j.tasks.map((t: { job_id: string }) => [t.job_id, t]));
    expect(byJob.get("764254593_0")).toMatchObject({ state: "failed", category: "TIMEOUT" });
    expect(byJob.get("764254593_1")).toMatchObject({ state: "failed", category: "OUT_OF_MEMORY" });
    // LSF's own words for a task that died without a record: its -o file, named with LSB_JOBINDEX = index + 1
    expect(byJob.get("764254593_0")?.scheduler_log_path).toBe(path.join(s.out, "logs", "scheduler", "array_764254593_1.out"));
    expect(byJob.get("764254593_2")?.state).toBe("pending-in-queue");
    expect(byJob.get("764254593_3")?.state).toBe("pending-in-queue");
    const steps = j.next_steps.map((n: { next_step: string }) => n.next_step).join("\n");
    expect(steps).toContain(`cst-batch resubmit --out ${s.out} --category TIMEOUT --time-factor 2`);
    expect(steps).toContain(`cst-batch resubmit --out ${s.out} --category OUT_OF_MEMORY --mem-factor 1.5`);
    // the verdict is written back as the subject's record (recorded_by scheduler), as for Slurm
    const written = new Map<string, { kind: string; path: string; category: string }>(j.write_backs.map((w: { key: string; outcome: unknown }) => [w.key, w.outcome]));
    const timedOut = written.get(byJob.get("764254593_0")!.key)!;
    expect(timedOut).toMatchObject({ kind: "written", category: "TIMEOUT" });
    expect(path.basename(timedOut.path)).toMatch(/_TIMEOUT$/);
    expect(readJson<{ recorded_by: string; category: string; job_id: string }>(path.join(timedOut.path, "attempt.json"))).toMatchObject({ category: "TIMEOUT", recorded_by: "scheduler", job_id: "764254593_0" });
    expect(written.get(byJob.get("764254593_1")!.key)).toMatchObject({ kind: "written", category: "OUT_OF_MEMORY" });

    // a rerun of the timed-out subject: a new compact LSF array with twice the time
    const rs = runCli(["resubmit", "--out", s.out, "--category", "TIMEOUT", "--time-factor", "2", "--no-profile", "--dry-run"], { env: s.env });
    expect(rs.code, rs.stderr).toBe(EXIT.OK);
    expect(rs.stdout).toContain('#BSUB -J "cst-batch[1-1]"');
    expect(rs.stdout).toContain("#BSUB -W 4:00");
    expect(rs.stdout).toMatch(/^bsub < \S+array-0\.sh$/m);

    // cancel: the two queued elements, by LSF's names (index + 1); bjobs then says TERM_OWNER
    writeFileSync(
      path.join(s.bin, "bjobs-after-bkill.out"),
      `${BJOBS_KILLED.replace(/\|3\|PEND\|-\|-\|-\|-\|-/, "|3|EXIT|-|-|-|-|TERM_OWNER: job killed by owner").replace(/\|4\|PEND\|-\|-\|-\|-\|-/, "|4|EXIT|-|-|-|-|TERM_OWNER: job killed by owner")}\n`,
    );
    const c = runCli(["cancel", "--out", s.out, "--wait", "10", "--json"], { env: s.env });
    expect(c.code, c.stderr).toBe(EXIT.OK);
    const cj = JSON.parse(c.stdout);
    expect(cj.commands.map((x: { argv: string[] }) => x.argv)).toEqual([["bkill", "764254593[3-4]"]]);
    expect(cj.targets.map((t: { id: string }) => t.id).sort()).toEqual(["764254593_2", "764254593_3"]);
    expect(cj.targets.map((t: { category_after: string | null }) => t.category_after)).toEqual(["CANCELLED", "CANCELLED"]);
  }, 240_000);

  it("run-one in an LSF element (LSB_JOBID, LSB_JOBINDEX from 1) stopped by SIGUSR2, LSF's run-limit signal, records TIMEOUT for element <job>_<index-1>", async () => {
    const s = setup("cst-e2e-lsf-usr2-");
    const sub = runCli([...base(s), "--scheduler", "lsf", "--include", "sub-02", "--time", "1h", "--mem", "2G", "--no-profile", "--json"], { env: s.env });
    expect(sub.code, sub.stderr).toBe(EXIT.OK);
    const key = readCurrentPlan(s.out).tasks[0]!.key;
    const one = startCli(["run-one", "--plan", path.join(s.out, ".cst-batch", "plan.jsonl"), "--index", "0"], {
      env: { ...s.env, CSTTOOL_STANDIN_BEHAVIOR: "hang", LSB_JOBID: "764254593", LSB_JOBINDEX: "1" },
    });
    const until = Date.now() + 60_000;
    while (!existsSync(path.join(s.out, key, "_work", "attempt.json"))) {
      if (Date.now() > until) throw new Error("run-one did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    one.child.kill("SIGUSR2");
    const r = await one.done;
    expect(r.code, r.stderr).toBe(EXIT.TIMEOUT_OR_KILLED);
    const failed = path.join(s.out, key, "_failed_attempts");
    const [dirName] = readdirSync(failed);
    expect(dirName).toMatch(/_TIMEOUT$/);
    expect(readJson<{ category: string; job_id: string; recorded_by: string }>(path.join(failed, dirName!, "attempt.json"))).toMatchObject({
      category: "TIMEOUT",
      job_id: "764254593_0",
      recorded_by: "run-one",
    });
  }, 240_000);

  it("values LSF cannot hold are usage errors (exit 2) naming the value and what to do, before anything is submitted", () => {
    const s = setup("cst-e2e-lsf-usage-");
    const qos = runCli([...base(s), "--scheduler", "lsf", "--time", "1h", "--qos", "high"], { env: s.env });
    expect(qos.code).toBe(EXIT.USAGE);
    expect(qos.stderr).toMatch(/--qos is a Slurm option; LSF has no QOS/);
    const name = runCli([...base(s), "--scheduler", "lsf", "--time", "1h", "--job-name", "my study"], { env: s.env });
    expect(name.code).toBe(EXIT.USAGE);
    expect(name.stderr).toMatch(/job name cannot be written on a #BSUB -J line: "my study"/);
    expect(name.stderr).toMatch(/choose a --job-name without spaces/);
    expect(s.calls().filter((c) => c.startsWith("bsub"))).toEqual([]);
  }, 120_000);
});
