import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CstError } from "../../../src/errors.js";
import { defaultProfilePath, loadProfile, parseProfile, PROFILE_KEYS } from "../../../src/profile/profile.js";
import { resolveSubmitSettings } from "../../../src/submit/settings.js";

function errorOf(fn: () => unknown): CstError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CstError) return e;
    throw e;
  }
  throw new Error("no error thrown");
}

describe("cluster profile", () => {
  it("an unknown key is named, with the valid keys listed", () => {
    const e = errorOf(() => parseProfile(JSON.stringify({ partiton: "short", collect: { tme: "1h" } }), "/p.json"));
    expect(e.message).toContain("/p.json");
    const text = e.details.join("\n");
    expect(text).toMatch(/unknown key "partiton" \(valid keys: .*partition/);
    expect(text).toMatch(/collect: unknown key "tme" \(valid keys: time, mem, cpus/);
  });

  it("wrong types and values are reported by path", () => {
    const e = errorOf(() => parseProfile(JSON.stringify({ cpus: "2", scheduler: "condor", setup: "module load x", lsf_unit_for_limits: "kb" }), "/p.json"));
    const text = e.details.join("\n");
    expect(text).toMatch(/^cpus: /m);
    expect(text).toMatch(/^scheduler: /m);
    expect(text).toMatch(/^setup: /m);
    expect(text).toMatch(/^lsf_unit_for_limits: /m);
    expect(() => parseProfile("{not json", "/p.json")).toThrow(/not valid JSON/);
    expect(() => parseProfile(JSON.stringify({ partition: "a", queue: "b" }), "/p.json")).toThrow(/not both/);
  });

  it("every example profile is valid", async () => {
    const files = readdirSync(path.join("examples", "profiles")).filter((f) => f.endsWith(".json")).sort();
    expect(files).toEqual(["lsf-example.json", "pbs-example.json", "sge-example.json", "slurm-example.json"]);
    for (const f of files) {
      const loaded = await loadProfile({ explicit: path.join("examples", "profiles", f) });
      expect(Object.keys(loaded.profile).every((k) => PROFILE_KEYS.includes(k))).toBe(true);
      expect(() => resolveSubmitSettings({}, loaded.profile)).not.toThrow();
    }
  });

  it("the default location is $XDG_CONFIG_HOME/cst-batch/profile.json, else ~/.config; --no-profile skips it", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "cst-profile-"));
    expect(defaultProfilePath({ XDG_CONFIG_HOME: dir })).toBe(path.join(dir, "cst-batch", "profile.json"));
    expect(defaultProfilePath({ HOME: "/home/u" })).toBe("/home/u/.config/cst-batch/profile.json");
    expect(await loadProfile({ env: { XDG_CONFIG_HOME: dir } })).toEqual({ profile: {}, path: null });
    mkdirSync(path.join(dir, "cst-batch"));
    writeFileSync(path.join(dir, "cst-batch", "profile.json"), JSON.stringify({ partition: "short", time: "2h" }));
    const loaded = await loadProfile({ env: { XDG_CONFIG_HOME: dir } });
    expect(loaded.profile).toEqual({ partition: "short", time: "2h" });
    expect((await loadProfile({ env: { XDG_CONFIG_HOME: dir }, disabled: true })).path).toBeNull();
    await expect(loadProfile({ explicit: path.join(dir, "missing.json") })).rejects.toThrow(/cannot read the profile/);
  });

  it("flags override the profile, which overrides the defaults; units are normalised", () => {
    const profile = parseProfile(
      JSON.stringify({ time: "2h", mem: "16GB", cpus: 4, queue: "long", setup: ["module load a"], collect: { mem: "3G" } }),
      "/p.json",
    );
    const s = resolveSubmitSettings({ time: "90m", setup: ["module load b"] }, profile);
    expect(s.array).toEqual({ timeSeconds: 5400, memMiB: 16384, cpus: 4, partition: "long", account: null, qos: null, gres: null, memoryResource: null, parallelEnvironment: null });
    expect(s.setupLines).toEqual(["module load b"]);
    expect(s.sources).toMatchObject({ time: "flag", mem: "profile", cpus: "profile", partition: "profile", account: "default" });
    expect(s.collect).toMatchObject({ timeSeconds: 900, memMiB: 3072, cpus: 1, partition: "long" });
    const d = resolveSubmitSettings({}, {});
    expect(d.array).toMatchObject({ timeSeconds: null, memMiB: 8192, cpus: 1 });
    expect(d).toMatchObject({ chunkSize: 1, throttle: null, maxArraySize: null, jobName: "cst-batch", collectJobName: "cst-batch-collect", container: null });
  });

  it("bad resource values are rejected before anything is submitted, naming the flag or profile key", () => {
    expect(() => resolveSubmitSettings({ time: "90" }, {})).toThrow(/--time: a bare number/);
    expect(() => resolveSubmitSettings({ mem: "4" }, {})).toThrow(/--mem: a bare number/);
    expect(() => resolveSubmitSettings({ cpus: "1.5" }, {})).toThrow(/--cpus/);
    expect(() => resolveSubmitSettings({ arrayThrottle: "0" }, {})).toThrow(/--array-throttle/);
    expect(() => resolveSubmitSettings({}, parseProfile(JSON.stringify({ time: "30:00" }), "/p.json"))).toThrow(/profile "time"/);
    expect(() => resolveSubmitSettings({ partition: "a", queue: "b" }, {})).toThrow(/not both/);
    expect(() => resolveSubmitSettings({ setup: ["a\nb"] }, {})).toThrow(/line break/);
    expect(() => resolveSubmitSettings({ containerRuntime: "docker", container: "/x.sif" }, {})).toThrow(/apptainer or singularity/);
    expect(() => resolveSubmitSettings({ containerRuntime: "singularity" }, {})).toThrow(/needs --container/);
    const c = resolveSubmitSettings({ container: "img.sif" }, {}, { cwd: "/data" });
    expect(c.container).toEqual({ image: "/data/img.sif", runtime: "apptainer" });
    expect(resolveSubmitSettings({ container: "docker://x/csttool:0.5" }, {}).container?.image).toBe("docker://x/csttool:0.5");
  });
});
