import { describe, expect, it } from "vitest";
import { CstError } from "../../../src/errors.js";
import { formatPbsDuration, formatSlurmDuration, parseDuration } from "../../../src/schedulers/duration.js";
import { formatPbsMemory, formatSlurmMemory, parseMemory } from "../../../src/schedulers/memory.js";

describe("parseDuration", () => {
  it.each([
    ["2h", 7200],
    ["90m", 5400],
    ["1h30m", 5400],
    ["45s", 45],
    ["1d", 86400],
    ["1d12h", 129600],
    ["01:30:00", 5400],
    ["100:00:00", 360000],
    ["1-02:00:00", 93600],
    ["2-12", 216000],
    ["1-00:30", 88200],
    [" 2H ", 7200],
  ])("%j -> %i s", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it("a bare number is rejected with a hint to add a unit (Slurm: minutes, PBS: seconds)", () => {
    try {
      parseDuration("90");
      expect.unreachable();
    } catch (e) {
      const err = e as CstError;
      expect(err.code).toBe("USAGE");
      expect(err.message).toMatch(/--time.*bare number/);
      expect(err.hint).toMatch(/90m.*90s/);
      expect(err.details.join("\n")).toMatch(/found: "90"/);
    }
  });

  it("MM:SS is rejected as ambiguous", () => {
    expect(() => parseDuration("30:00")).toThrow(/ambiguous/);
  });

  it.each(["", "0", "0h", "00:00:00", "1.5h", "-1h", "2 hours", "1:60:00", "h", "1-25:00:00"])("rejects %j", (text) => {
    expect(() => parseDuration(text)).toThrow(CstError);
  });

  it("names the flag it was given", () => {
    expect(() => parseDuration("x", "--collect-time")).toThrow(/^--collect-time:/);
  });
});

describe("duration formatters", () => {
  it("Slurm writes D-HH:MM:SS rounded up to whole minutes, PBS HH:MM:SS with unbounded hours", () => {
    expect(formatSlurmDuration(45)).toBe("0-00:01:00");
    expect(formatSlurmDuration(3600)).toBe("0-01:00:00");
    expect(formatSlurmDuration(93784)).toBe("1-02:04:00");
    expect(formatPbsDuration(93784)).toBe("26:03:04");
    expect(formatPbsDuration(5400)).toBe("01:30:00");
    expect(() => formatPbsDuration(0)).toThrow(CstError);
    expect(() => formatSlurmDuration(1.5)).toThrow(CstError);
  });
});

describe("parseMemory", () => {
  it.each([
    ["4G", 4096],
    ["4GB", 4096],
    ["4g", 4096],
    ["4GiB", 4096],
    ["500M", 500],
    ["4096MB", 4096],
    ["1.5G", 1536],
    ["1T", 1048576],
    ["2048K", 2],
    ["1000K", 1],
  ])("%j -> %i MiB", (text, mib) => {
    expect(parseMemory(text)).toBe(mib);
  });

  it("a bare number is rejected: Slurm reads MB, PBS bytes", () => {
    expect(() => parseMemory("4096")).toThrow(/--mem: a bare number has no unit/);
  });

  it.each(["", "0G", "4X", "G", "-1G", "four gigs"])("rejects %j", (text) => {
    expect(() => parseMemory(text)).toThrow(CstError);
  });

  it("formats for Slurm (M) and PBS (mb)", () => {
    expect(formatSlurmMemory(4096)).toBe("4096M");
    expect(formatPbsMemory(4096)).toBe("4096mb");
  });
});
