import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { STOP_SIGNALS, stopSignalCategory } from "../../../src/failures/signals.js";
import { detectJobId } from "../../../src/run/attempt.js";
import { taskCpus } from "../../../src/run/thread-env.js";
import { formatLsfRunLimit, lsfBackend, lsfCancelArgv, lsfMemoryNumbers, lsfSubmitArgv, parseLsfJobId } from "../../../src/schedulers/lsf.js";
import { BJOBS_FIELDS, classifyLsfExit, lsfStatusArgv, parseBjobs, parseLsfMemKb } from "../../../src/schedulers/lsf-status.js";
import { schedulerOutputFile } from "../../../src/schedulers/output-file.js";
import { runSchedulerCommand, stdinRedirect } from "../../../src/schedulers/runner.js";
import { formatArgv } from "../../../src/shell/shell-quote.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/schedulers/lsf/", import.meta.url));
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), "utf8");

/** The `-o` columns of the recorded outputs, as the programs that recorded them asked (see the fixtures' README). */
const AIIDA_FIELDS = ["id", "stat", "exit_reason", "exec_host", "user", "slots", "max_req_proc", "exec_host", "queue", "finish_time", "start_time", "%complete", "submit_time", "name"];
const PIPELITE_FIELDS = ["jobid", "stat", "exit_code", "cpu_used", "max_mem", "avg_mem", "exec_host", "exit_reason"];

describe("bjobs -o output recorded on real LSF clusters", () => {
  it("CERN lxplus (aiida-core): TERM_RUNLIMIT is a timeout, PEND pending, RUN running, DONE completed; a row with a leading space is still read", () => {
    const rows = parseBjobs(fixture("bjobs_o_lxplus_aiida.txt"), AIIDA_FIELDS);
    const byId = new Map(rows.map((r) => [r.jobId, r]));
    expect(rows).toHaveLength(7);
    expect(byId.get("764213236")).toMatchObject({ state: "timeout", rawState: "EXIT", reason: "TERM_RUNLIMIT: job killed after reaching LSF run time limit", node: "b681e480bd", arrayIndex: null });
    expect(["764220165", "764220167"].map((id) => byId.get(id)?.state)).toEqual(["pending", "pending"]);
    expect(["764254593", "764255172", "764245175"].map((id) => byId.get(id)?.state)).toEqual(["running", "running", "running"]);
    expect(byId.get("764254593")?.node).toBe("lxbsu2710");
    expect(byId.get("764399747")).toMatchObject({ state: "completed", exitCode: 0, node: "p05496706j68144" });
  });

  it("EBI (pipelite): TERM_RUNLIMIT with its exit code is a timeout; EXIT 127 without a reason is the script's failure; `Job <N> is not found` lines are skipped", () => {
    expect(parseBjobs(fixture("bjobs_o_ebi_pipelite_timeout.txt"), PIPELITE_FIELDS)).toEqual([
      expect.objectContaining({ jobId: "861487", state: "timeout", exitCode: 12, node: "hl-codon-102-04" }),
    ]);
    const lost = parseBjobs(fixture("bjobs_o_ebi_pipelite_found_and_lost.txt"), PIPELITE_FIELDS);
    expect(lost.map((r) => [r.jobId, r.state, r.exitCode, r.signal])).toEqual([
      ["873206", "failed", 127, null],
      ["873207", "failed", 127, null],
      ["873209", "failed", 127, null],
    ]);
    expect(parseBjobs(fixture("bjobs_o_ebi_pipelite_done.txt"), PIPELITE_FIELDS).map((r) => [r.state, r.exitCode, r.node])).toEqual(
      Array(3).fill(["completed", 0, "hx-noah-05-14"]),
    );
    expect(parseBjobs(fixture("bjobs_o_ebi_pipelite_pending.txt"), PIPELITE_FIELDS).map((r) => r.state)).toEqual(["pending", "pending"]);
  });

  it("the same rows in cst-batch's own column order parse the same way (only the column list differs)", () => {
    // pipelite's timeout row, its cells moved into BJOBS_FIELDS order, jobindex 0 (not an array); it asked for cpu_used, not run_time
    const ours = "861487|0|EXIT|12|-|-|hl-codon-102-04|TERM_RUNLIMIT: job killed after reaching LSF run time limit\n";
    expect(parseBjobs(ours)).toEqual(parseBjobs(fixture("bjobs_o_ebi_pipelite_timeout.txt"), PIPELITE_FIELDS));
  });
});

describe("LSF job reports (the -o file's summary) recorded at DTU: what the reasons and exit codes mean", () => {
  const report = (name: string) => {
    const text = fixture(name);
    return { reason: /^(TERM_\w+: .*)$/m.exec(text)?.[1] ?? null, exitCode: Number(/^Exited with exit code (\d+)\.$/m.exec(text)?.[1]) };
  };

  it("TERM_MEMLIMIT (exit 137 = SIGKILL) is OUT_OF_MEMORY", () => {
    const r = report("job_report_term_memlimit_dtu.txt");
    expect(r.reason).toMatch(/^TERM_MEMLIMIT/);
    expect(classifyLsfExit(r.exitCode, r.reason)).toEqual({ state: "out_of_memory", exitCode: 137, signal: 9 });
  });

  it("TERM_RUNLIMIT (exit 140 = SIGUSR2, 'User defined signal 2') is TIMEOUT, and run-one records SIGUSR2 as TIMEOUT", () => {
    const r = report("job_report_term_runlimit_dtu.txt");
    const verdict = classifyLsfExit(r.exitCode, r.reason);
    expect(verdict).toEqual({ state: "timeout", exitCode: 140, signal: os.constants.signals.SIGUSR2 });
    expect(fixture("job_report_term_runlimit_dtu.txt").split("\n")[0]).toBe("User defined signal 2");
    expect(stopSignalCategory("SIGUSR2", new Map(STOP_SIGNALS).get("SIGUSR2")!, { LSB_JOBID: "764254593", LSB_JOBINDEX: "1" })).toBe("TIMEOUT");
  });

  it("an exit by a signal without a known reason is killed; a plain non-zero exit failed", () => {
    expect(classifyLsfExit(137, null)).toEqual({ state: "killed", exitCode: 137, signal: 9 });
    expect(classifyLsfExit(2, "TERM_WINDOW: job killed after queue run window closed")).toEqual({ state: "failed", exitCode: 2, signal: null });
    expect(classifyLsfExit(130, "TERM_OWNER: job killed by owner")).toMatchObject({ state: "cancelled", signal: 2 });
  });
});

describe("cst-batch's bjobs query and array elements", () => {
  it("one bjobs -a call for all jobs, columns ours, jobindex N is array index N-1, units read from the value", () => {
    expect(lsfStatusArgv(["764254593", "2329803"])).toEqual(["bjobs", "-a", "-noheader", "-o", `${BJOBS_FIELDS.join(" ")} delimiter='|'`, "764254593", "2329803"]);
    const rows = parseBjobs(
      ["764254593|1|RUN|-|120 second(s)|25600 Mbytes|4*n-62-23-29:n-62-23-30|-", "764254593|3|PEND|-|-|-|-|-", "2329803|0|PEND|-|-|-|-|-"].join("\n"),
    );
    expect(rows.map((r) => [r.jobId, r.arrayIndex, r.state, r.elapsedSeconds, r.maxRssKb, r.node])).toEqual([
      ["764254593", 0, "running", 120, 25600 * 1024, "n-62-23-29"],
      ["764254593", 2, "pending", null, null, null],
      ["2329803", null, "pending", null, null, null],
    ]);
    expect([parseLsfMemKb("1.5 Gbytes"), parseLsfMemKb("512 Kbytes"), parseLsfMemKb("2048 MB"), parseLsfMemKb("2048")]).toEqual([1572864, 512, 2097152, null]);
  });
});

describe("bsub, bkill and the script's numbers", () => {
  it("job ids from bsub's recorded submit lines (queue and default queue forms)", () => {
    expect(fixture("bsub_submitted.txt").trim().split("\n").map((l) => parseLsfJobId(l))).toEqual(["764254593", "2329803", "2848143"]);
    expect(() => parseLsfJobId("Batch job not submitted.")).toThrow(/bsub printed no job id/);
  });

  it("bsub reads the script on stdin; dependencies are ended(...) of every id; the printed command is a working shell line", () => {
    const argv = lsfSubmitArgv("/s/x y/array-0.sh", { dependsOn: ["764254593", "2329803"] });
    expect(argv).toEqual(["bsub", "-w", "ended(764254593) && ended(2329803)", "<", "/s/x y/array-0.sh"]);
    expect(formatArgv(argv)).toBe("bsub -w 'ended(764254593) && ended(2329803)' < '/s/x y/array-0.sh'");
    expect(stdinRedirect(argv)).toEqual({ argv: ["bsub", "-w", "ended(764254593) && ended(2329803)"], stdinFile: "/s/x y/array-0.sh" });
    expect(stdinRedirect(["sbatch", "--parsable", "a.sh"]).stdinFile).toBeNull();
  });

  it("the runner feeds the file after `<` on stdin (what bsub needs)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cst-lsf-stdin-"));
    try {
      const file = path.join(dir, "job script.sh");
      writeFileSync(file, "#!/bin/bash\n#BSUB -J \"x[1-2]\"\n");
      expect(await runSchedulerCommand(["cat", "<", file])).toEqual({ kind: "ok", stdout: "#!/bin/bash\n#BSUB -J \"x[1-2]\"\n", stderr: "" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bkill names elements the LSF way: element 764254593_k is 764254593[k+1], one index list per job", () => {
    expect(lsfCancelArgv(["764254593_0", "764254593_1", "764254593_2", "764254593_5", "2329803"])).toEqual(["bkill", "2329803", "764254593[1-3,6]"]);
    expect(lsfBackend.cancelArgv(["12_0"])).toEqual(["bkill", "12[1]"]);
  });

  it("memory in the site's LSF_UNIT_FOR_LIMITS (unset: -M KB, rusage MB), rounded up; -W in whole minutes rounded up", () => {
    expect(lsfMemoryNumbers(4096, null)).toEqual({ limit: 4194304, usage: 4096 });
    expect(lsfMemoryNumbers(4096, "MB")).toEqual({ limit: 4096, usage: 4096 });
    expect(lsfMemoryNumbers(4096, "GB")).toEqual({ limit: 4, usage: 4 });
    expect(lsfMemoryNumbers(1536, "GB")).toEqual({ limit: 2, usage: 2 });
    expect([formatLsfRunLimit(7200), formatLsfRunLimit(93784), formatLsfRunLimit(59)]).toEqual(["2:00", "26:04", "0:01"]);
  });

  it("an element's -o file is array_<job>_<LSB_JOBINDEX>.out; run-one names its element <job>_<index-1>", () => {
    const sub = { scheduler: "lsf", resources: { log_dir: "/o/logs/scheduler", job_name: "cst-batch" } };
    expect(schedulerOutputFile(sub, "764254593_2")).toBe("/o/logs/scheduler/array_764254593_3.out");
    expect(detectJobId({ LSB_JOBID: "764254593", LSB_JOBINDEX: "3" })).toBe("764254593_2");
    expect(detectJobId({ LSB_JOBID: "2329803", LSB_JOBINDEX: "0" })).toBe("2329803");
    // the slots of -n, for csttool's thread variables
    expect(taskCpus({ LSB_DJOB_NUMPROC: "4" }, null)).toEqual({ cpus: 4, source: "LSB_DJOB_NUMPROC" });
    // Grid Engine: the slots of -pe NAME N
    expect(taskCpus({ NSLOTS: "2" }, null)).toEqual({ cpus: 2, source: "NSLOTS" });
  });
});
