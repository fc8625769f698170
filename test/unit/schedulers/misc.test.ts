import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { classifyQstatVersion, detectScheduler } from "../../../src/schedulers/detect.js";
import { getBackend } from "../../../src/schedulers/index.js";
import { parseMaxArraySize, PBS_DEFAULT_MAX_ARRAY_SIZE, resolveMaxArraySize, shardChunks } from "../../../src/schedulers/max-array-size.js";
import { expandIndexList, parseClockSeconds, parseSizeKb } from "../../../src/schedulers/parse-util.js";
import { runSchedulerCommand } from "../../../src/schedulers/runner.js";
import { failureCategoryForState } from "../../../src/failures/scheduler-states.js";
import { fixture } from "./fixtures.js";

const bin = mkdtempSync(path.join(os.tmpdir(), "cst-fake-bin-"));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** Put a fake executable on a private PATH. */
function fake(name: string, body: string): void {
  const file = path.join(bin, name);
  writeFileSync(file, `#!/bin/bash\n${body}\n`);
  chmodSync(file, 0o755);
}
const env = (): NodeJS.ProcessEnv => ({ PATH: `${bin}:/usr/bin:/bin` });

describe("shardChunks", () => {
  it("keeps every shard's largest index below MaxArraySize", () => {
    expect(shardChunks(0, 1000)).toEqual([]);
    expect(shardChunks(5, 1000)).toEqual([{ first_chunk: 0, count: 5 }]);
    expect(shardChunks(2500, 1001)).toEqual([
      { first_chunk: 0, count: 1001 },
      { first_chunk: 1001, count: 1001 },
      { first_chunk: 2002, count: 498 },
    ]);
    for (const s of shardChunks(10_000, 7)) expect(s.count - 1).toBeLessThanOrEqual(6);
    expect(() => shardChunks(3, 0)).toThrow(/max array size/);
  });
});

describe("MaxArraySize", () => {
  it("parses the recorded scontrol show config", () => {
    expect(parseMaxArraySize(fixture("slurm/scontrol_show_config.txt"))).toBe(10001);
    expect(parseMaxArraySize("Foo = 1\n")).toBeNull();
  });

  it("override wins; PBS uses its default; Slurm asks scontrol, falls back with a note", async () => {
    expect(await resolveMaxArraySize("slurm", 50)).toEqual({ value: 50, source: "override", note: null });
    expect((await resolveMaxArraySize("pbs", null)).value).toBe(PBS_DEFAULT_MAX_ARRAY_SIZE);
    fake("scontrol", "echo 'MaxArraySize            = 4001'");
    expect(await resolveMaxArraySize("slurm", null, { env: env() })).toMatchObject({ value: 4001, source: "scontrol" });
    fake("scontrol", "echo 'slurm_load_ctl_conf error: Unable to contact slurm controller' >&2; exit 1");
    const fallback = await resolveMaxArraySize("slurm", null, { env: env() });
    expect(fallback).toMatchObject({ value: 1001, source: "default" });
    expect(fallback.note).toMatch(/failed/);
  });
});

describe("runSchedulerCommand", () => {
  it("reports ok / failed / missing / timeout as values", async () => {
    fake("fake-ok", "echo 12");
    fake("fake-fail", "echo 'sbatch: error: invalid partition' >&2; exit 1");
    fake("fake-hang", "exec sleep 30");
    expect(await runSchedulerCommand(["fake-ok"], { env: env() })).toMatchObject({ kind: "ok", stdout: "12\n" });
    expect(await runSchedulerCommand(["fake-fail"], { env: env() })).toMatchObject({ kind: "failed", exitCode: 1, stderr: "sbatch: error: invalid partition\n" });
    expect(await runSchedulerCommand(["no-such-sbatch"], { env: env() })).toEqual({ kind: "missing", command: "no-such-sbatch" });
    const t0 = Date.now();
    expect(await runSchedulerCommand(["fake-hang"], { env: env(), timeoutMs: 300 })).toMatchObject({ kind: "timeout", timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("a hung wrapper script is stopped with its children (process group), not waited for", async () => {
    fake("fake-wrapper-hang", "sleep 30 & sleep 30; wait");
    const t0 = Date.now();
    expect(await runSchedulerCommand(["fake-wrapper-hang"], { env: env(), timeoutMs: 300 })).toMatchObject({ kind: "timeout" });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("a command that cannot be started (argument list too long) fails with the spawn's cause, not an empty message", async () => {
    fake("fake-args", "exit 0");
    // One argument over Linux's 128 KiB per-argument limit: execve refuses it with E2BIG.
    const out = await runSchedulerCommand(["fake-args", "x".repeat(200 * 1024)], { env: env() });
    expect(out).toMatchObject({ kind: "failed", exitCode: null });
    expect(out.kind === "failed" ? out.stderr : "").toBe("fake-args could not be started: E2BIG\n");
  });

  it("passes argv without a shell", async () => {
    fake("fake-argv", 'printf "%s\\n" "$@"');
    const out = await runSchedulerCommand(["fake-argv", "a b", "$(id)", "'"], { env: env() });
    expect(out).toMatchObject({ kind: "ok", stdout: "a b\n$(id)\n'\n" });
  });
});

describe("scheduler detection", () => {
  it("classifies qstat --version output", () => {
    expect(classifyQstatVersion(fixture("pbs/qstat_version.txt"))).toBe("pbs");
    expect(classifyQstatVersion(fixture("torque/qstat_version.txt"))).toBe("torque");
    expect(classifyQstatVersion(fixture("slurm-wrapper/qstat_version.txt"))).toBeNull();
  });

  it("sbatch -> slurm; qstat only -> by version; unknown qstat -> not guessed; nothing -> local", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cst-detect-"));
    const only = { PATH: dir };
    const put = (name: string, body: string): void => {
      writeFileSync(path.join(dir, name), `#!/bin/bash\n${body}\n`);
      chmodSync(path.join(dir, name), 0o755);
    };
    try {
      expect((await detectScheduler({ env: only })).kind).toBe("local");
      put("qstat", "echo 'pbs_version = 2022.1.3'");
      expect(await detectScheduler({ env: only })).toMatchObject({ kind: "found", scheduler: "pbs" });
      put("qstat", "echo 'Version: 6.1.2'");
      expect(await detectScheduler({ env: only })).toMatchObject({ kind: "found", scheduler: "torque" });
      put("qstat", "echo 'Unknown option: version' >&2; exit 2");
      expect(await detectScheduler({ env: only })).toMatchObject({ kind: "unknown-pbs" });
      put("sbatch", "echo 'slurm 22.05.8'");
      expect(await detectScheduler({ env: only })).toMatchObject({ kind: "found", scheduler: "slurm" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bsub or lsid (and neither sbatch nor qstat) -> lsf; Slurm and PBS still win over a bsub beside them", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cst-detect-lsf-"));
    const only = { PATH: dir };
    const put = (name: string, body: string): void => {
      writeFileSync(path.join(dir, name), `#!/bin/bash\n${body}\n`);
      chmodSync(path.join(dir, name), 0o755);
    };
    try {
      put("lsid", "echo 'IBM Spectrum LSF Standard 10.1.0.0, Jul 08 2016'");
      expect(await detectScheduler({ env: only })).toMatchObject({ kind: "found", scheduler: "lsf", evidence: expect.stringContaining("lsid") });
      put("bsub", "echo 'IBM Spectrum LSF 10.1.0.0 build 403338, Jul 08 2016' >&2");
      expect(await detectScheduler({ env: only })).toMatchObject({ kind: "found", scheduler: "lsf", evidence: expect.stringContaining("IBM Spectrum LSF 10.1") });
      put("qstat", "echo 'pbs_version = 2022.1.3'");
      expect(await detectScheduler({ env: only })).toMatchObject({ kind: "found", scheduler: "pbs" });
      put("sbatch", "echo 'slurm 22.05.8'");
      expect(await detectScheduler({ env: only })).toMatchObject({ kind: "found", scheduler: "slurm" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("small parsers and maps", () => {
  it("clock, size and index lists", () => {
    expect(parseClockSeconds("0:04")).toBe(4);
    expect(parseClockSeconds("1:02:03")).toBe(3723);
    expect(parseClockSeconds("2-01:00:00")).toBe(176400);
    expect(parseClockSeconds("")).toBeNull();
    expect(parseSizeKb("87004K")).toBe(87004);
    expect(parseSizeKb("1.5G")).toBe(1572864);
    expect(parseSizeKb("3500kb")).toBe(3500);
    expect(parseSizeKb("")).toBeNull();
    expect(expandIndexList("[2-5%2]")).toEqual([2, 3, 4, 5]);
    expect(expandIndexList("1,3,7-9")).toEqual([1, 3, 7, 8, 9]);
    expect(expandIndexList("0-10:5")).toEqual([0, 5, 10]);
    expect(expandIndexList("x")).toBeNull();
  });

  it("maps scheduler ends to failure categories", () => {
    expect(failureCategoryForState("timeout")).toBe("TIMEOUT");
    expect(failureCategoryForState("killed")).toBe("KILLED");
    expect(failureCategoryForState("completed")).toBeNull();
  });

  it("getBackend returns each dialect", () => {
    expect(getBackend("slurm").name).toBe("slurm");
    expect(getBackend("pbs").submitCommand).toBe("qsub");
    expect(getBackend("torque").name).toBe("torque");
  });
});
