import { describe, expect, it } from "vitest";
import { mergeSettings, normaliseSetting, STUDY_SETTINGS } from "../../../src/study/settings.js";

const spec = (key: string) => STUDY_SETTINGS.find((s) => s.key === key)!;

describe("study settings: given values laid over recorded ones", () => {
  it("a given value replaces the recorded one and is reported old → new; an equal one is no change", () => {
    const r = mergeSettings({ "options.fa_thr": 0.2, exclude: ["sub-03"] }, { "options.fa_thr": 0.15, exclude: ["sub-03"] });
    expect(r.settings).toEqual({ "options.fa_thr": 0.15, exclude: ["sub-03"] });
    expect(r.changes).toEqual([{ setting: "options.fa_thr", old: 0.2, new: 0.15 }]);
  });

  it("--bids-dir and --manifest replace each other (one source per study)", () => {
    const r = mergeSettings({ manifest: "/m/study.json", timeout_minutes: 30 }, { bids_dir: "/data/bids" });
    expect(r.settings).toEqual({ bids_dir: "/data/bids", timeout_minutes: 30 });
    expect(r.changes).toEqual([
      { setting: "manifest", old: "/m/study.json", new: null },
      { setting: "bids_dir", old: null, new: "/data/bids" },
    ]);
  });

  it("paths are recorded absolute; a bare csttool name and a container URI stay as given", () => {
    expect(normaliseSetting(spec("bids_dir"), "bids", "/home/u")).toBe("/home/u/bids");
    expect(normaliseSetting(spec("csttool"), "csttool", "/home/u")).toBe("csttool");
    expect(normaliseSetting(spec("csttool"), "./bin/csttool", "/home/u")).toBe("/home/u/bin/csttool");
    expect(normaliseSetting(spec("container"), "docker://x/csttool:0.5", "/home/u")).toBe("docker://x/csttool:0.5");
    expect(normaliseSetting(spec("container"), "img.sif", "/home/u")).toBe("/home/u/img.sif");
    expect(normaliseSetting(spec("profile"), false, "/home/u")).toBe(false);
    expect(normaliseSetting(spec("timeout_minutes"), "45", "/home/u")).toBe(45);
  });
});
