import { describe, expect, it } from "vitest";
import { CstError } from "../../../src/errors.js";
import { classifyQstatVersion } from "../../../src/schedulers/detect.js";
import { schedulerOutputFile } from "../../../src/schedulers/output-file.js";
import { parseSgeJobId, sgeBackend } from "../../../src/schedulers/sge.js";
import { classifySgeAccounting, parseQacct, parseSgeQstatXml } from "../../../src/schedulers/sge-parse.js";
import { detectJobId } from "../../../src/run/attempt.js";
import { plainArrayContext } from "../templates/contexts.js";
import { fixture } from "./fixtures.js";

describe("Grid Engine job ids (qsub -terse, recorded on Son of Grid Engine 8.1.9)", () => {
  it("an array's `1.1-5:1` and a plain job's `2` both give the job number", () => {
    expect(parseSgeJobId(fixture("sge/qsub_terse_array.txt"))).toBe("1");
    expect(parseSgeJobId(fixture("sge/qsub_terse_plain.txt"))).toBe("2");
    expect(parseSgeJobId("123.1-10:1\n")).toBe("123");
    expect(() => parseSgeJobId('Unable to run job: job rejected: the initial working directory "/x" is not valid.\n')).toThrow(CstError);
  });

  it("run-one's element id maps SGE_TASK_ID (from 1) to the plan's index (from 0), as status names it", () => {
    expect(detectJobId({ JOB_ID: "12", SGE_TASK_ID: "1" })).toBe("12_0");
    expect(detectJobId({ JOB_ID: "12", SGE_TASK_ID: "undefined" })).toBe("12");
    expect(schedulerOutputFile({ scheduler: "sge", resources: { log_dir: "/o/logs/scheduler", job_name: "cst" } }, "12_0")).toBe("/o/logs/scheduler/cst.o12.1");
  });
});

describe("Grid Engine submit, status and cancel commands", () => {
  it("the collect job waits with -hold_jid on every array; qsub -terse prints the id alone", () => {
    expect(sgeBackend.submitArgv("/o/a.sh")).toEqual(["qsub", "-terse", "/o/a.sh"]);
    expect(sgeBackend.submitArgv("/o/c.sh", { dependsOn: ["12", "13"], dependsOnArrays: true })).toEqual(["qsub", "-terse", "-hold_jid", "12,13", "/o/c.sh"]);
  });

  it("status asks qstat once for the live queue and qacct one job at a time; cancel is qdel", () => {
    expect(sgeBackend.statusQueryArgv(["12", "13"]).slice(0, 3)).toEqual(["qstat", "-xml", "-u"]);
    expect(sgeBackend.accountingQueryArgv!(["12"])).toEqual(["qacct", "-j", "12"]);
    expect(sgeBackend.accountingIdsPerCommand).toBe(1);
    expect(sgeBackend.cancelArgv(["12", "13"])).toEqual(["qdel", "12", "13"]);
    // an element (plan index 3) is task 4: `qdel 13.4` (checked on the real Grid Engine)
    expect(sgeBackend.cancelArgv(["13_3", "14"])).toEqual(["qdel", "13.4", "14"]);
  });

  it("auto detection tells Grid Engine by the first line of its qstat usage (no --version there)", () => {
    expect(classifyQstatVersion(fixture("sge/qstat_version.txt"))).toBe("sge");
    expect(classifyQstatVersion(fixture("torque/qstat_version.txt"))).toBe("torque");
    expect(classifyQstatVersion(fixture("pbs/qstat_version.txt"))).toBe("pbs");
    expect(classifyQstatVersion(fixture("slurm-wrapper/qstat_version.txt"))).toBeNull();
  });
});

describe("qstat -xml (recorded: a 1-5 array throttled to 2 and a held collect job)", () => {
  it("running tasks, the pending remainder expanded, the held job; tasks from 1 become indices from 0", () => {
    const rows = parseSgeQstatXml(fixture("sge/qstat_xml_running_pending.txt"));
    expect(rows.map((r) => [r.jobId, r.arrayIndex, r.state, r.rawState])).toEqual([
      ["1", 0, "running", "r"],
      ["1", 1, "running", "r"],
      ["1", 2, "pending", "qw"],
      ["1", 3, "pending", "qw"],
      ["1", 4, "pending", "qw"],
      ["2", null, "pending", "hqw"],
    ]);
    expect(rows[0]!.node).toBe("localhost");
  });

  it("an error state (Eqw) is a failure with the command that says why", () => {
    const [row] = parseSgeQstatXml("<job_list state=\"pending\"><JB_job_number>7</JB_job_number><state>Eqw</state><tasks>3</tasks></job_list>");
    expect(row).toMatchObject({ jobId: "7", arrayIndex: 2, state: "failed" });
    expect(row!.reason).toContain("qstat -j 7");
  });
});

describe("qacct -j (recorded: exit 0, exit 3, an h_rt kill, a qdel)", () => {
  it("maps failed / exit_status to states, with elapsed time, ru_maxrss and the requested h_rt", () => {
    const rows = parseQacct(fixture("sge/qacct_j_mixed.txt"));
    const byIndex = new Map(rows.map((r) => [r.arrayIndex, r]));
    expect(byIndex.get(0)).toMatchObject({ jobId: "2", state: "completed", exitCode: 0 });
    expect(byIndex.get(1)).toMatchObject({ state: "failed", exitCode: 3 });
    expect(byIndex.get(2)).toMatchObject({ state: "timeout", requestedSeconds: 8, elapsedSeconds: 100 });
    expect(byIndex.get(2)!.reason).toContain("qacct failed 37");
    expect(byIndex.get(3)).toMatchObject({ state: "killed", exitCode: 137, signal: 9, elapsedSeconds: 67 });
    expect(byIndex.get(0)!.maxRssKb).toBeGreaterThan(1000);
  });

  it("a parallel job's memory request is per slot: qacct's h_vmem x slots is the job's (recorded: -pe smp 2, h_vmem=2048M)", () => {
    const [row] = parseQacct(fixture("sge/qacct_j_pe_slots.txt"));
    expect(row).toMatchObject({ state: "completed", requestedMemKb: 2 * 2048 * 1024 });
    // a failed-37 kill of that job at 3 GiB of virtual memory (over one slot's 2 GiB, under the job's 4 GiB) is a walltime kill
    const killed = fixture("sge/qacct_j_pe_slots.txt").replace(/^failed .*$/m, "failed       37  : qmaster enforced h_rt, h_cpu, or h_vmem limit").replace(/^maxvmem .*$/m, "maxvmem      3.000GB");
    expect(parseQacct(killed)[0]).toMatchObject({ state: "timeout" });
  });

  it("failed 37 with maxvmem at the h_vmem request is out of memory, not a walltime kill", () => {
    expect(classifySgeAccounting({ failed: 37, exitStatus: 137, maxvmemKb: 2_100_000, requestedVmemKb: 2_097_152 }).state).toBe("out_of_memory");
    expect(classifySgeAccounting({ failed: 37, exitStatus: 137, maxvmemKb: 10_000, requestedVmemKb: 2_097_152 }).state).toBe("timeout");
    expect(classifySgeAccounting({ failed: 26, exitStatus: 0, maxvmemKb: null, requestedVmemKb: null }).state).toBe("failed");
  });
});

describe("Grid Engine scripts refuse what they cannot hold", () => {
  it("--cpus > 1 without a parallel environment names the profile key", () => {
    const ctx = plainArrayContext();
    expect(() => sgeBackend.renderArrayScript(ctx)).toThrow(/sge_pe/);
  });

  it("a log folder with a space cannot go on a #$ line; --qos and --gres are rejected", () => {
    const pe = { parallelEnvironment: "smp" };
    expect(() => sgeBackend.renderArrayScript(plainArrayContext({ logDir: "/data/my study/logs", resources: { ...plainArrayContext().resources, ...pe } }))).toThrow(/#\$ directive line/);
    expect(() => sgeBackend.renderArrayScript(plainArrayContext({ resources: { ...plainArrayContext().resources, ...pe, qos: "high" } }))).toThrow(/QOS/);
    expect(() => sgeBackend.renderArrayScript(plainArrayContext({ resources: { ...plainArrayContext().resources, ...pe, gres: "gpu:1" } }))).toThrow(/--gres/);
  });
});
