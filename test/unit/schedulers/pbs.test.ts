import { describe, expect, it } from "vitest";
import { CstError } from "../../../src/errors.js";
import { classifyPbsExit, parsePbsJobId, parseQstatFull, splitPbsJobId } from "../../../src/schedulers/pbs-common.js";
import { parsePbsProQstat, pbsProBackend } from "../../../src/schedulers/pbs-pro.js";
import { parseTorqueQstat, torqueBackend } from "../../../src/schedulers/torque.js";
import { plainArrayContext } from "../templates/contexts.js";
import { fixture } from "./fixtures.js";

describe("PBS job ids", () => {
  it.each([
    ["pbs/qsub_array.txt", "1234[].pbs01"],
    ["pbs/qsub_plain.txt", "1235.pbs01"],
    ["torque/qsub_array.txt", "567[].torque01.cluster.example"],
    ["torque/qsub_plain.txt", "568.torque01.cluster.example"],
  ])("%s -> %s (kept whole for qstat/qdel/depend)", (file, id) => {
    expect(parsePbsJobId(fixture(file))).toBe(id);
  });

  it("accepts the bare id of Slurm's qsub wrapper and rejects errors", () => {
    expect(parsePbsJobId("48\n")).toBe("48");
    expect(() => parsePbsJobId("qsub: Unknown queue\n")).toThrow(CstError);
  });

  it("splits subjob ids", () => {
    expect(splitPbsJobId("48[3].srv")).toEqual({ parent: "48[].srv", index: 3, isArrayParent: false });
    expect(splitPbsJobId("48[].srv")).toEqual({ parent: "48[].srv", index: null, isArrayParent: true });
    expect(splitPbsJobId("49.srv")).toEqual({ parent: "49.srv", index: null, isArrayParent: false });
  });
});

describe("submit argv", () => {
  it("PBS Pro waits with afterany on the array id", () => {
    expect(pbsProBackend.submitArgv("/o/c.sh", { dependsOn: ["1234[].pbs01"] })).toEqual(["qsub", "-W", "depend=afterany:1234[].pbs01", "/o/c.sh"]);
    expect(pbsProBackend.submitArgv("/o/a.sh")).toEqual(["qsub", "/o/a.sh"]);
  });

  it("Torque needs afteranyarray for arrays, afterany for plain jobs", () => {
    expect(torqueBackend.submitArgv("/o/c.sh", { dependsOn: ["567[].t", "570[].t"] })).toEqual(["qsub", "-W", "depend=afteranyarray:567[].t:570[].t", "/o/c.sh"]);
    expect(torqueBackend.submitArgv("/o/c.sh", { dependsOn: ["568.t"], dependsOnArrays: false })).toEqual(["qsub", "-W", "depend=afterany:568.t", "/o/c.sh"]);
  });

  it("status queries: PBS Pro with history (-x), Torque without (-x is XML there)", () => {
    expect(pbsProBackend.statusQueryArgv(["1234[].pbs01"])).toEqual(["qstat", "-f", "-x", "-t", "1234[].pbs01"]);
    expect(torqueBackend.statusQueryArgv(["567[].t"])).toEqual(["qstat", "-f", "-t", "567[].t"]);
  });
});

describe("qstat -f parsing", () => {
  it("joins tab-continued values", () => {
    const [parent] = parseQstatFull(fixture("pbs/qstat_f_x_t.txt"));
    expect(parent!.attrs.get("Variable_List")).toContain("PBS_O_MAIL=/var/spool/mail/alice,PBS_O_SHELL=/bin/bash");
  });

  it("PBS Pro: subjobs by index, the array parent skipped, the collect job held", () => {
    const rows = parsePbsProQstat(fixture("pbs/qstat_f_x_t.txt"));
    expect(rows.map((r) => [r.jobId, r.arrayIndex, r.state])).toEqual([
      ["1234[].pbs01", 0, "completed"],
      ["1234[].pbs01", 1, "failed"],
      ["1234[].pbs01", 2, "timeout"],
      ["1234[].pbs01", 3, "running"],
      ["1234[].pbs01", 4, "pending"],
      ["1234[].pbs01", 5, "pending"],
      ["1235.pbs01", null, "pending"],
    ]);
    expect(rows[0]).toMatchObject({ exitCode: 0, maxRssKb: 2143232, elapsedSeconds: 2537, node: "cn012" });
    expect(rows[1]).toMatchObject({ exitCode: 4 });
  });

  it("PBS Pro: signal deaths, walltime comment, mem kill, deleted without exit status", () => {
    const rows = parsePbsProQstat(fixture("pbs/qstat_f_x_t_killed.txt"));
    expect(rows.map((r) => [r.arrayIndex, r.state, r.signal])).toEqual([
      [0, "killed", 15],
      [1, "timeout", null],
      [2, "out_of_memory", null],
      [3, "unknown", null],
    ]);
  });

  it("Torque: C with exit_status; -11 walltime; 265 killed by signal 9", () => {
    const rows = parseTorqueQstat(fixture("torque/qstat_f_t.txt"));
    expect(rows.map((r) => [r.arrayIndex, r.state, r.exitCode])).toEqual([
      [0, "completed", 0],
      [1, "timeout", -11],
      [2, "killed", 265],
      [3, "failed", 4],
      [4, "running", null],
      [5, "pending", null],
    ]);
    expect(rows[2]!.signal).toBe(9);
    expect(rows[0]).toMatchObject({ jobId: "567[].torque01.cluster.example", node: "node07", maxRssKb: 2143232 });
  });

  it("classifies exit statuses", () => {
    const codes = { walltime: [-29], memory: [-27] };
    expect(classifyPbsExit(137, null, codes)).toEqual({ state: "killed", exitCode: 137, signal: 9 });
    expect(classifyPbsExit(254, null, codes).state).toBe("failed");
    expect(classifyPbsExit(-3, null, codes).state).toBe("failed");
    expect(classifyPbsExit(271, "PBS: job killed: walltime 10 exceeded limit 1", codes).state).toBe("timeout");
    expect(classifyPbsExit(null, "job killed: mem 5000000kb exceeded limit 4194304kb", codes).state).toBe("out_of_memory");
  });
});

describe("PBS rendering rules", () => {
  it("a one-chunk PBS Pro job has no -J line; Torque renders -t 0", () => {
    const pbs = pbsProBackend.renderArrayScript(plainArrayContext({ arraySize: 1 }));
    expect(pbs).not.toMatch(/^#PBS -J/m);
    expect(pbs).toMatch(/^index=0$/m);
    expect(torqueBackend.renderArrayScript(plainArrayContext({ arraySize: 1 }))).toMatch(/^#PBS -t 0$/m);
  });

  it("throttles: PBS Pro -J 0-9%3, Torque -t 0-9%3", () => {
    expect(pbsProBackend.renderArrayScript(plainArrayContext({ arraySize: 10, throttle: 3 }))).toMatch(/^#PBS -J 0-9%3$/m);
    expect(torqueBackend.renderArrayScript(plainArrayContext({ arraySize: 10, throttle: 3 }))).toMatch(/^#PBS -t 0-9%3$/m);
  });

  it("rejects values a #PBS line cannot hold, naming them", () => {
    for (const backend of [pbsProBackend, torqueBackend]) {
      expect(() => backend.renderArrayScript(plainArrayContext({ logDir: "/data/my study/logs" }))).toThrow(/log folder.*#PBS/);
      expect(() => backend.renderArrayScript(plainArrayContext({ jobName: "a'b" }))).toThrow(/job name/);
      expect(() => backend.renderArrayScript(plainArrayContext({ jobName: "1abc" }))).toThrow(/start with a letter/);
      expect(() =>
        backend.renderArrayScript(plainArrayContext({ resources: { ...plainArrayContext().resources, qos: "high" } })),
      ).toThrow(/--qos/);
    }
  });

  it("--gres: PBS Pro gpu:N -> ngpus=N; other forms and Torque rejected", () => {
    const r = plainArrayContext().resources;
    expect(pbsProBackend.renderArrayScript(plainArrayContext({ resources: { ...r, gres: "gpu:a100:2" } }))).toContain(
      "#PBS -l select=1:ncpus=2:mem=4096mb:ngpus=2",
    );
    expect(() => pbsProBackend.renderArrayScript(plainArrayContext({ resources: { ...r, gres: "nvme:1" } }))).toThrow(/--gres/);
    expect(() => torqueBackend.renderArrayScript(plainArrayContext({ resources: { ...r, gres: "gpu:1" } }))).toThrow(/--gres/);
  });
});

describe("recorded qstat -f output of a real Torque server (bcgsc/mavis test data, see fixtures README)", () => {
  it("parses 8-space continuation lines, the requested limits, and 271 (256 + SIGTERM) as a kill", () => {
    const rows = parseTorqueQstat(fixture("torque/qstat_f_recorded_bcgsc.txt"));
    expect(rows).toHaveLength(2);
    const [plain, element] = rows;
    expect(plain).toMatchObject({ jobId: "9.torque01.bcgsc.ca", arrayIndex: null, state: "completed", exitCode: 0, elapsedSeconds: 60, maxRssKb: 3624, requestedSeconds: 3600, requestedMemKb: null });
    expect(element).toMatchObject({ jobId: "48[].torque01.bcgsc.ca", arrayIndex: 1, state: "killed", exitCode: 271, signal: 15, requestedMemKb: 12000 * 1024, requestedSeconds: 16 * 3600 });
    // the comment continued on an 8-space line is read whole
    expect(element!.reason).toBe("Job 48[].torque01.bcgsc.ca deleted because its dependency of array 43[].torque01.bcgsc.ca can never be satisfied");
  });
});
