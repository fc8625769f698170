import { promises as fsp, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlan } from "../../../src/plan/planner.js";
import { keepSameContent } from "../../../src/plan/content-hash.js";
import { resumeStates } from "../../../src/plan/resume-states.js";
import { HashCache } from "../../../src/plan/hash-cache.js";
import { ChangeReasons, describeTaskChange, previousPlan, reconcileReplan, type PreviousPlan, type ReplanGroup, type ResumeInfo } from "../../../src/plan/replan.js";
import type { PlanRequest } from "../../../src/plan/request.js";
import type { PlanTask } from "../../../src/schemas/plan.js";
import { makeBidsDataset, makeTempDir } from "../../helpers/plan-bids-maker.js";
import { makeVersionOnlyCsttool } from "../../helpers/plan-fake-csttool.js";
import { planned, writeDoneFor } from "../../helpers/plan-outcome.js";

/**
 * Issue 21: a re-plan where every task changed reads a previous task back for its reason only
 * when the options of the tasks read before do not explain it, and gives the same reason lines
 * as reading every previous task back.
 */
let tmp: string;
let csttool: string;

beforeAll(async () => {
  tmp = await makeTempDir("cst-change-reasons-");
  csttool = await makeVersionOnlyCsttool(path.join(tmp, "bin"), { version: "0.5.0" });
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** The previous plan, counting the tasks read back from it. */
function counting(previous: PreviousPlan): { previous: PreviousPlan; reads: () => number } {
  let reads = 0;
  return {
    previous: {
      ...previous,
      task: (key) => {
        reads++;
        return previous.task(key);
      },
    },
    reads: () => reads,
  };
}

/** The reason groups made by reading every previous task back (what re-plans did before). */
async function readingEveryTask(out: string, tasks: readonly PlanTask[], version: string): Promise<ReplanGroup[]> {
  const previous = (await previousPlan(out))!;
  try {
    const groups = new Map<string, ReplanGroup>();
    for (const t of tasks) {
      if (previous.hashOf(t.key) === t.config_hash) continue;
      const reason = describeTaskChange(previous.task(t.key)!, t, { before: previous.version, after: version });
      const g = groups.get(reason);
      if (g) g.keys.push(t.key);
      else groups.set(reason, { kind: "pending", reason, verdict: "run", keys: [t.key] });
    }
    return [...groups.values()];
  } finally {
    previous.close();
  }
}

describe("re-plan reasons without reading every previous task back", () => {
  it("every task's options changed, a few inputs too: the same reason lines, a previous task read back only for the inputs that changed", async () => {
    const subjects = Array.from({ length: 40 }, (_, i) => ({ id: `sub-${String(i).padStart(2, "0")}` }));
    const bids = await makeBidsDataset(path.join(tmp, "bids"), subjects);
    const out = path.join(tmp, "out");
    const base: PlanRequest = { csttool, bidsDir: bids, out, options: { fa_thr: 0.2 } };
    planned(await createPlan(base));
    const later = new Date(Date.now() + 3_600_000);
    for (const s of ["sub-07", "sub-31"]) await fsp.utimes(path.join(bids, s, "dwi", `${s}_dwi.bval`), later, later);
    await fsp.appendFile(path.join(bids, "sub-12", "dwi", "sub-12_dwi.bvec"), "\n");

    for (const request of [
      { ...base, options: { fa_thr: 0.25 } },
      { ...base, options: { fa_thr: 0.25, unring: true } },
      { ...base, options: { fa_thr: 0.2 }, csttoolVersion: "0.6.0" },
    ] satisfies PlanRequest[]) {
      const next = planned(await createPlan({ ...request, dryRun: true }));
      const tasks = (await next.loadPlan()).tasks;
      const expected = await readingEveryTask(out, tasks, next.plan.csttool.version);
      expect(expected.flatMap((g) => g.keys)).toHaveLength(40);
      // one line for the options (or version) alone, one with "input changed (modified time)", one with "(size)"
      expect(expected.map((g) => g.keys.length)).toEqual([37, 2, 1]);
      expect(expected[1]!.reason).toMatch(/, input changed \(modified time\)$/);

      const p = counting((await previousPlan(out))!);
      try {
        const got = reconcileReplan({
          tasks,
          resume: tasks.map((): ResumeInfo => ({ state: "new", doneHash: null })),
          previous: p.previous,
          previousVersion: p.previous.version,
          version: next.plan.csttool.version,
          rerunChanged: false,
        });
        expect(got.groups).toEqual(expected);
        // the first task and the three whose inputs changed (no options set explains them)
        expect(p.reads()).toBe(4);
      } finally {
        p.previous.close();
      }
      // and the CLI's own re-plan (through createPlan) says the same
      expect(next.preview.changes).toEqual(expected);
    }
  });
});

describe("kept done results in a re-plan", () => {
  it("a done subject whose options changed keeps its task line byte for byte (sharing the new task's input and names), without --rerun-changed", async () => {
    const subjects = [{ id: "sub-a", sessions: ["ses-1", "ses-2"] }, { id: "sub-b" }, { id: "sub-c" }];
    const bids = await makeBidsDataset(path.join(tmp, "bids-kept"), subjects);
    const out = path.join(tmp, "out-kept");
    const first = planned(await createPlan({ csttool, bidsDir: bids, out, options: { fa_thr: 0.2 } }));
    const plan = await first.loadPlan();
    for (const task of plan.tasks.slice(0, 3)) await writeDoneFor(out, plan, task);
    const before = readFileSync(first.planPath, "utf8").split("\n");
    const again = planned(await createPlan({ csttool, bidsDir: bids, out, options: { fa_thr: 0.25 } }));
    expect(again.preview.resume).toMatchObject({ done: 3, new: 1, to_run: 1 });
    expect(again.preview.kept_changed).toBe(3);
    const after = readFileSync(again.planPath, "utf8").split("\n");
    expect(after.slice(1, 4)).toEqual(before.slice(1, 4));
    expect(after[4]).not.toEqual(before[4]);
    expect(after[4]).toContain('"fa_thr":0.25');
  });
});

/**
 * 20 subjects planned with fa_thr 0.2, every one done with its task, then planned again with
 * 0.25 (dry run) and reconciled (`rerunChanged` as given), counting the previous tasks read back.
 */
async function everySubjectDoneThenOptionsChanged(name: string, rerunChanged: boolean, resumeFrom: "records" | "states" = "records") {
  const subjects = Array.from({ length: 20 }, (_, i) => ({ id: `sub-${String(i).padStart(2, "0")}` }));
  const bids = await makeBidsDataset(path.join(tmp, `bids-${name}`), subjects);
  const out = path.join(tmp, `out-${name}`);
  const first = planned(await createPlan({ csttool, bidsDir: bids, out, options: { fa_thr: 0.2 } }));
  const before = (await first.loadPlan()).tasks;
  const next = planned(await createPlan({ csttool, bidsDir: bids, out, options: { fa_thr: 0.25 }, dryRun: true }));
  const tasks = (await next.loadPlan()).tasks;
  // Done records as run-one writes them (only where resume states are read from them).
  if (resumeFrom === "states") for (const t of before) await writeDoneFor(out, first.plan, t);
  const p = counting((await previousPlan(out))!);
  try {
    // The record's hash held in each state, or as resumeStates holds it (the previous plan's: shared, asPlanned).
    const resume = resumeFrom === "records" ? tasks.map((t): ResumeInfo => ({ state: "changed", doneHash: p.previous.hashOf(t.key)! })) : await resumeStates(out, tasks, (key) => p.previous.hashOf(key));
    const reasons = new ChangeReasons({ before: p.previous.version, after: next.plan.csttool.version });
    const same = await keepSameContent({ out, tasks, resume, previous: p.previous, cache: new HashCache(out, false), sameVersion: true, remember: false, reasons });
    const got = reconcileReplan({ tasks: same.tasks, resume: same.resume, previous: p.previous, previousVersion: p.previous.version, version: next.plan.csttool.version, rerunChanged, reasons });
    return { before, keys: tasks.map((t) => t.key), same, got, reads: p.reads() };
  } finally {
    p.previous.close();
  }
}

describe("done subjects whose options changed, with --rerun-changed", () => {
  it("the content check and the reason lines read back one previous task between them, not one per subject", async () => {
    const { keys, same, got, reads } = await everySubjectDoneThenOptionsChanged("rerun", true);
    expect(same.sameContent.size).toBe(0);
    expect(same.contentChanged.size).toBe(0);
    expect(got.groups).toEqual([{ kind: "done", reason: "fa_thr 0.2 → 0.25", verdict: "rerun", keys }]);
    expect(reads).toBe(1);
  });
});

describe("resume states of done records made with the previous plan's tasks", () => {
  it("are shared (asPlanned, no hash held each) and reconcile as states holding each record's hash", async () => {
    const byRecord = await everySubjectDoneThenOptionsChanged("asplanned-a", false, "records");
    const byState = await everySubjectDoneThenOptionsChanged("asplanned-b", false, "states");
    const states = byState.same.resume;
    expect(states.every((r) => r.state === "changed" && r.asPlanned === true && r.doneHash === null)).toBe(true);
    expect(new Set(states).size).toBe(1);
    // the same reasons (the two studies have the same subjects), each kept as planned before
    const plain = (t: PlanTask) => JSON.parse(JSON.stringify(t));
    expect(byState.got.kept).toBe(20);
    expect(byState.got.groups).toEqual(byRecord.got.groups);
    expect(byState.got.tasks.map(plain)).toEqual(byState.before.map(plain));
    expect(byRecord.got.tasks.map(plain)).toEqual(byRecord.before.map(plain));
  });
});

describe("done subjects whose options changed, kept (no --rerun-changed)", () => {
  it("each keeps its previous task line (options and hash), one previous task read back for all of them", async () => {
    const { before, keys, got, reads } = await everySubjectDoneThenOptionsChanged("keep-many", false);
    expect(got.kept).toBe(20);
    expect(got.states.every((s) => s === "done")).toBe(true);
    expect(got.groups).toEqual([{ kind: "done", reason: "fa_thr 0.2 → 0.25", verdict: "kept", keys }]);
    // as planned before: the options and hash that made the result, the same input identity
    const plain = (t: PlanTask) => JSON.parse(JSON.stringify(t));
    expect(got.tasks.map(plain)).toEqual(before.map(plain));
    expect(reads).toBe(1);
  });
});
