import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CstError } from "../../../src/errors.js";
import { canaryDir } from "../../../src/layout.js";
import { acquireLock } from "../../../src/lock/lock.js";
import { runOne } from "../../../src/run/run-one.js";
import { SubmissionSchema } from "../../../src/schemas/study-records.js";
import { selectPending } from "../../../src/submit/pending.js";
import { resolveSubmitSettings, type SubmitFlagValues } from "../../../src/submit/settings.js";
import { submitToScheduler, type SubmitRequest } from "../../../src/submit/submit.js";
import { makeStudy, type TestStudy } from "../../helpers/run-plan.js";

/**
 * The submit pipeline against fake scheduler executables on PATH (real Slurm cannot fail on
 * demand). The fake `sbatch`/`qsub` logs its argv and answers by FAKE_MODE; `scancel`/`qdel` log
 * their argv; `scontrol show config` prints FAKE_MAX_ARRAY.
 */
const FAKE = `#!/bin/bash
dir="$FAKE_DIR"
name=$(basename "$0")
echo "$name $*" >> "$dir/calls.log"
case "$name" in
  scontrol) echo "MaxArraySize            = \${FAKE_MAX_ARRAY:-1001}"; exit 0 ;;
  scancel|qdel) [ "\${FAKE_CANCEL_FAIL:-0}" = 1 ] && { echo "cancel refused" >&2; exit 1; }; exit 0 ;;
esac
n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$dir/count"
mode="\${FAKE_MODE:-ok}"
if [ -n "\${FAKE_FAIL_AT:-}" ] && [ "$n" != "$FAKE_FAIL_AT" ]; then mode=ok; fi
case "$mode" in
  ok) echo "$((1000 + n))" ;;
  fail) echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2; exit 1 ;;
  garbage) echo "Submitted batch job, probably" ;;
  hang) exec sleep 30 ;;
esac
`;

function fakeBin(study: TestStudy): { dir: string; env: (extra?: Record<string, string>) => NodeJS.ProcessEnv; calls: () => string[] } {
  const dir = path.join(study.root, "fakebin");
  mkdirSync(dir, { recursive: true });
  for (const name of ["sbatch", "scancel", "scontrol", "qsub", "qdel"]) {
    writeFileSync(path.join(dir, name), FAKE);
    chmodSync(path.join(dir, name), 0o755);
  }
  return {
    dir,
    env: (extra = {}) => ({ ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}`, FAKE_DIR: dir, ...extra }),
    calls: () => (existsSync(path.join(dir, "calls.log")) ? readFileSync(path.join(dir, "calls.log"), "utf8").trim().split("\n") : []),
  };
}

function request(study: TestStudy, flags: SubmitFlagValues, extra: Partial<SubmitRequest> = {}): SubmitRequest {
  return {
    plan: study.plan,
    planPath: study.planFile,
    scheduler: "slurm",
    settings: resolveSubmitSettings({ time: "1h", ...flags }, {}),
    explicitTimeoutMinutes: null,
    commandLine: ["cst-batch", "submit", "--test"],
    ...extra,
  };
}

function submissionsDir(study: TestStudy): string {
  return path.join(study.out, ".cst-batch", "submissions");
}
function records(study: TestStudy): string[] {
  return existsSync(submissionsDir(study)) ? readdirSync(submissionsDir(study)).filter((f) => f.endsWith(".json")) : [];
}

async function thrown(p: Promise<unknown>): Promise<CstError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CstError) return e;
    throw e;
  }
  throw new Error("no error");
}

const subjects = (n: number) => Array.from({ length: n }, (_, i) => ({ subject: `sub-${String(i + 1).padStart(2, "0")}` }));
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe("pending selection", () => {
  it("done subjects and subjects whose lock is held are not submitted; failed ones are", async () => {
    const study = await makeStudy(subjects(4));
    await study.setBehaviours({ "sub-02": "fail" });
    await runOne({ planFile: study.planFile, index: 0, env: study.env });
    await runOne({ planFile: study.planFile, index: 1, env: study.env });
    // sub-03: a live run holds its lock (and has started an attempt)
    mkdirSync(path.join(study.out, "sub-03"), { recursive: true });
    const held = await acquireLock(path.join(study.out, "sub-03", "_lock"), { pid: process.pid, host: "h", job_id: null, since: new Date().toISOString(), token: "t", child_pgid: null });
    expect(held.kind).toBe("acquired");
    if (held.kind === "acquired") cleanups.push(() => held.lock.release());
    mkdirSync(path.join(study.out, "sub-03", "_work"), { recursive: true });
    writeFileSync(path.join(study.out, "sub-03", "_work", "attempt.json"), "{}");

    const sel = await selectPending(study.plan, study.out);
    expect(sel.done).toEqual([0]);
    expect(sel.running).toEqual([2]);
    expect(sel.pending).toEqual([1, 3]);
    expect(sel.runningKeys).toEqual(["sub-03"]);
    // the same from a stream of the plan's tasks (how submit reads a written plan: never all at once)
    const streamed = await selectPending({ forEach: async (fn) => { for (const t of study.plan.tasks) await fn(t); } }, study.out);
    expect(streamed).toEqual(sel);
  });
});

describe("submit with fake scheduler commands", () => {
  it("dry run renders the scripts and the submit commands, calls no submit program and writes no record", async () => {
    const study = await makeStudy(subjects(3));
    const fake = fakeBin(study);
    const r = await submitToScheduler(request(study, { arrayThrottle: "2" }, { dryRun: true, env: fake.env() }));
    expect(r.kind).toBe("dry-run");
    if (r.kind !== "dry-run") return;
    expect(r.scripts.map((s) => s.name)).toEqual(["array-0", "collect"]);
    expect(r.scripts[0]!.text).toContain("#SBATCH --array=0-2%2");
    expect(r.scripts[0]!.text).toMatch(/run-one --submission \S+\.json --chunk "\$chunk" --timeout-minutes \d/);
    expect(r.scripts[1]!.submitArgv).toEqual(["sbatch", "--parsable", "--dependency=afterany:<job id of array-0>", r.scripts[1]!.path]);
    expect(fake.calls().filter((c) => !c.startsWith("scontrol"))).toEqual([]);
    expect(existsSync(submissionsDir(study))).toBe(false);
    expect(existsSync(path.join(study.out, "logs", "scheduler"))).toBe(false);
    expect(r.submission.dry_run).toBe(true);
  });

  it("submits the array, then collect after every shard; the record names the jobs, chunks and scripts", async () => {
    const study = await makeStudy(subjects(5));
    const fake = fakeBin(study);
    const r = await submitToScheduler(request(study, { maxArraySize: "2", chunkSize: "1" }, { env: fake.env() }));
    expect(r.kind).toBe("submitted");
    if (r.kind !== "submitted") return;
    const calls = fake.calls().filter((c) => c.startsWith("sbatch"));
    expect(calls).toHaveLength(4);
    expect(calls[3]).toMatch(/^sbatch --parsable --dependency=afterany:1001:1002:1003 \S+collect\.sh$/);
    const rec = SubmissionSchema.parse(JSON.parse(readFileSync(r.recordPath, "utf8")));
    expect(rec.shards.map((s) => [s.job_id, s.first_chunk, s.count])).toEqual([
      ["1001", 0, 2],
      ["1002", 2, 2],
      ["1003", 4, 1],
    ]);
    expect(rec.collect?.job_id).toBe("1004");
    expect(rec.chunks).toEqual([[0], [1], [2], [3], [4]]);
    expect(rec.dry_run).toBe(false);
    for (const s of rec.shards) expect(existsSync(s.script)).toBe(true);
    expect(readFileSync(rec.shards[1]!.script, "utf8")).toContain("chunk=$(( 2 + index ))");
    expect(existsSync(path.join(study.out, "logs", "scheduler"))).toBe(true);
    // The canary's folder is made here, once, so that its first K array tasks make none.
    expect(readdirSync(canaryDir(study.out, rec.submission_id))).toEqual([]);
  });

  it.each([
    ["exits non-zero", { FAKE_MODE: "fail" }, /sbatch failed \(exit status 1\)/, /Invalid account/],
    ["prints no job id", { FAKE_MODE: "garbage" }, /sbatch printed no job id/, /probably/],
  ])("sbatch that %s: a clear error naming the command and its output, and no record", async (_what, env, message, detail) => {
    const study = await makeStudy(subjects(2));
    const fake = fakeBin(study);
    const e = await thrown(submitToScheduler(request(study, {}, { env: fake.env(env) })));
    expect(e.code).toBe("SCHEDULER");
    expect(e.message).toMatch(message);
    expect(e.details.join("\n")).toMatch(/command: sbatch --parsable /);
    expect(e.details.join("\n")).toMatch(detail);
    expect(records(study)).toEqual([]);
  });

  it("sbatch missing from PATH is reported as such", async () => {
    const study = await makeStudy(subjects(1));
    const e = await thrown(submitToScheduler(request(study, { maxArraySize: "10" }, { env: { PATH: "/nonexistent" } })));
    expect(e.message).toMatch(/sbatch is not on PATH/);
    expect(records(study)).toEqual([]);
  });

  it("a hanging sbatch is stopped after the command timeout", async () => {
    const study = await makeStudy(subjects(1));
    const fake = fakeBin(study);
    const t0 = Date.now();
    const e = await thrown(submitToScheduler(request(study, {}, { env: fake.env({ FAKE_MODE: "hang" }), commandTimeoutMs: 1000 })));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(e.message).toMatch(/sbatch did not answer within 1 s/);
    expect(e.details.join("\n")).toMatch(/may still have created a job/);
    expect(records(study)).toEqual([]);
  });

  it("when shard 2 of 3 fails, shard 1 is cancelled and nothing is recorded; a rerun submits everything", async () => {
    const study = await makeStudy(subjects(5));
    const fake = fakeBin(study);
    const e = await thrown(submitToScheduler(request(study, { maxArraySize: "2" }, { env: fake.env({ FAKE_MODE: "fail", FAKE_FAIL_AT: "2" }) })));
    expect(e.message).toMatch(/submitting array 2 of 3 failed/);
    expect(fake.calls()).toContain("scancel 1001");
    expect(e.details.join("\n")).toMatch(/cancelled the job\(s\) already submitted: scancel 1001/);
    expect(records(study)).toEqual([]);
    const dirs = readdirSync(submissionsDir(study));
    expect(dirs.some((d) => existsSync(path.join(submissionsDir(study), d, "submit-failed.json")))).toBe(true);
    // Nor is its chunk index left for an array element to find.
    expect(dirs.some((d) => existsSync(path.join(submissionsDir(study), d, "chunks.idx")))).toBe(false);
    // Nor its empty canary folder.
    expect(readdirSync(path.join(study.out, ".cst-batch", "canary"))).toEqual([]);

    const again = await submitToScheduler(request(study, { maxArraySize: "2" }, { env: fake.env() }));
    expect(again.kind).toBe("submitted");
    expect(records(study)).toHaveLength(1);
  });

  it("when the collect submit fails and the cancel fails too, the record keeps exactly the jobs that exist", async () => {
    const study = await makeStudy(subjects(2));
    const fake = fakeBin(study);
    const e = await thrown(submitToScheduler(request(study, {}, { env: fake.env({ FAKE_MODE: "fail", FAKE_FAIL_AT: "2", FAKE_CANCEL_FAIL: "1" }) })));
    expect(e.message).toMatch(/submitting the collect job failed/);
    expect(e.details.join("\n")).toMatch(/could not cancel/);
    const [rec] = records(study);
    const parsed = SubmissionSchema.parse(JSON.parse(readFileSync(path.join(submissionsDir(study), rec!), "utf8")));
    expect(parsed.shards.map((s) => s.job_id)).toEqual(["1001"]);
    expect(parsed.collect?.job_id).toBeNull();
  });

  it("PBS Pro: qsub ids are kept whole and the collect depends on the array with afterany", async () => {
    const study = await makeStudy(subjects(3));
    const fake = fakeBin(study);
    const r = await submitToScheduler(request(study, { arrayThrottle: "2" }, { scheduler: "pbs", env: fake.env() }));
    expect(r.kind).toBe("submitted");
    const calls = fake.calls().filter((c) => c.startsWith("qsub"));
    expect(calls[1]).toMatch(/^qsub -W depend=afterany:1001 \S+collect\.sh$/);
    expect(readFileSync(path.join(path.dirname(r.kind === "submitted" ? r.submission.collect!.script : ""), "array-0.sh"), "utf8")).toContain("#PBS -J 0-2%2");
    // --qos has no PBS meaning: rejected before anything is submitted
    const e = await thrown(submitToScheduler(request(study, { qos: "high" }, { scheduler: "pbs", env: fake.env() })));
    expect(e.message).toMatch(/--qos is a Slurm option/);
    expect(fake.calls().filter((c) => c.startsWith("qsub"))).toHaveLength(2);
  });

  it("nothing is submitted when every task is done", async () => {
    const study = await makeStudy(subjects(1));
    const fake = fakeBin(study);
    await runOne({ planFile: study.planFile, index: 0, env: study.env });
    const r = await submitToScheduler(request(study, {}, { env: fake.env() }));
    expect(r.kind).toBe("nothing-to-do");
    expect(fake.calls()).toEqual([]);
  });
});
