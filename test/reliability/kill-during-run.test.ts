import { describe, expect, it } from "vitest";
import { existsSync, promises as fsp } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { EXIT } from "../../src/errors.js";
import { readTaskState } from "../../src/state/task-state.js";
import { makeStudy, rewritePlan, type TestStudy } from "../helpers/run-plan.js";
import { pidsWithEnv, runCli, sleep, startCli, waitFor } from "../helpers/run-procs.js";
import { checkDone, entriesOf, visibleEntries, waitStoppedOrGone } from "../helpers/reliability-fs.js";
import { iterations, reportFamily, Tally } from "../helpers/reliability-results.js";

/**
 * SIGKILL of run-one at chosen moments. The pause points (CST_BATCH_TEST_PAUSE_AT, see
 * src/util/test-pause.ts) stop run-one exactly there; "csttool-running" kills at a random moment
 * while the stand-in sleeps.
 *
 * "Previous good state": the subject folder's `_done.json` is the earlier record (config hash-1)
 * and the result entries visible in the folder are exactly the ones that record lists.
 * "New complete": `_done.json` is the new record (hash-2) and the visible entries are its files.
 * "Roll-forward pending" (allowed only mid-promotion): no `_done.json`, `_work/promote.json`
 * present; a reader (readTaskState) must then not report success, and the next run finishes it.
 * Never allowed: a `_done.json` listing a file that is missing or of another size, or a
 * `_done.json` with entries of the other result beside it.
 */

const PHASES = [
  "before-lock",
  "after-lock",
  "csttool-running",
  "journal-written",
  "promote-previous-out",
  "promote-mid",
  "before-done",
  "done-temp-written",
  "after-done",
] as const;
type Phase = (typeof PHASES)[number];
const PROMOTION_PHASES: ReadonlySet<Phase> = new Set(["journal-written", "promote-previous-out", "promote-mid", "before-done", "done-temp-written"]);

function runOneArgs(study: TestStudy): string[] {
  return ["run-one", "--plan", study.planFile, "--index", "0"];
}

async function assertFolder(study: TestStudy, taskDir: string, phase: Phase, previous: string[] | null, next: string[]): Promise<void> {
  const done = await checkDone(taskDir);
  if (done.kind === "bad") throw new Error(`after kill at ${phase}: _done.json inconsistent: ${done.problems.join("; ")}`);
  const visible = await visibleEntries(taskDir);
  if (done.kind === "ok") {
    const hash = done.record!.config_hash;
    const expected = hash === "hash-1" ? previous : next;
    if (!expected) throw new Error(`after kill at ${phase}: unexpected done record with ${hash}`);
    expect(entriesOf(done.record!.files)).toEqual(expected);
    if (JSON.stringify(visible) !== JSON.stringify(expected)) {
      throw new Error(`after kill at ${phase}: _done.json (${hash}) beside a mix: visible ${visible.join(",")}, expected ${expected.join(",")}`);
    }
    return;
  }
  // No `_done.json`.
  const journal = existsSync(path.join(taskDir, "_work", "promote.json"));
  if (previous && !journal) throw new Error(`after kill at ${phase}: the previous result's _done.json is gone and no promotion journal exists`);
  if (previous && !PROMOTION_PHASES.has(phase) && phase !== "after-done") {
    throw new Error(`after kill at ${phase}: no _done.json although the kill came before promotion started`);
  }
  const state = await readTaskState(study.out, study.plan.tasks[0]!);
  if (state.status === "success") throw new Error(`after kill at ${phase}: a reader sees success without _done.json`);
}

async function oneIteration(phase: Phase, withPrevious: boolean): Promise<void> {
  const study = await makeStudy([{ subject: "sub-01" }], { graceSeconds: 1 });
  const marker = `CST_REL_KILL=${randomBytes(6).toString("hex")}`;
  const env = { ...study.env, CST_REL_KILL: marker.split("=")[1] };
  const taskDir = path.join(study.out, "sub-01");
  let previous: string[] | null = null;
  try {
    if (withPrevious) {
      await study.setBehaviours({ "sub-01": "old-layout" });
      const first = await runCli(runOneArgs(study), env);
      if (first.code !== EXIT.OK) throw new Error(`previous run failed: ${first.stderr}`);
      const d = await checkDone(taskDir);
      previous = entriesOf(d.record!.files);
    }
    await rewritePlan(study, (p) => {
      for (const t of p.tasks) t.config_hash = "hash-2";
    });
    await study.setBehaviours({ "sub-01": phase === "csttool-running" ? "sleep:1.5" : "succeed" });
    const before = await study.runCount();
    const pauseEnv = phase === "csttool-running" ? env : { ...env, CST_BATCH_TEST_PAUSE_AT: phase };
    const run = startCli(runOneArgs(study), pauseEnv);
    const pid = run.child.pid!;
    if (phase === "csttool-running") {
      await waitFor(async () => (await study.runCount()) > before, 15_000, 10);
      // a random moment while csttool (1.5 s) still runs; promotion and _done.json have their own pause points
      await sleep(Math.floor(Math.random() * 1000));
    } else {
      const s = await waitStoppedOrGone(pid);
      if (s === "gone") throw new Error(`run-one exited before reaching ${phase}: ${(await run.done).stderr}`);
    }
    process.kill(pid, "SIGKILL");
    await run.done;

    await assertFolder(study, taskDir, phase, previous, NEW_ENTRIES);

    const rerun = await runCli(runOneArgs(study), env);
    if (rerun.code !== EXIT.OK) throw new Error(`rerun after kill at ${phase} exited ${rerun.code}: ${rerun.stderr.trim()}`);
    const after = await checkDone(taskDir);
    if (after.kind !== "ok" || after.record!.config_hash !== "hash-2") throw new Error(`rerun after ${phase}: not done with hash-2 (${after.kind} ${after.problems.join("; ")})`);
    expect(await visibleEntries(taskDir)).toEqual(NEW_ENTRIES);
    expect(existsSync(path.join(taskDir, "_work"))).toBe(false);
    const survivors = await pidsWithEnv(marker);
    if (survivors.length) throw new Error(`processes left after the rerun: ${survivors.join(",")}`);
  } finally {
    for (const p of await pidsWithEnv(marker)) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
    await fsp.rm(study.root, { recursive: true, force: true });
  }
}

/** What the stand-in's "succeed" leaves in a subject folder after promotion. */
// csttool's study-level root files (dataset_description.json, participants.*) are not promoted
const NEW_ENTRIES = ["dwi", "reports", "sub-01_pipeline_report.json"];

describe("reliability: SIGKILL of run-one at any moment", () => {
  it("kill-during-run: the folder is the previous good state or the new complete one; the rerun completes", async (ctx) => {
    const n = iterations(PHASES.length, 12 * PHASES.length);
    const tally = new Tally("kill-during-run");
    for (let i = 0; i < n; i++) {
      const phase = PHASES[i % PHASES.length]!;
      const withPrevious = Math.floor(i / PHASES.length) % 3 !== 2; // most iterations have an earlier result
      await tally.run(`#${i} ${phase}${withPrevious ? " (with previous result)" : ""}`, () => oneIteration(phase, withPrevious));
    }
    reportFamily(ctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 1_800_000);
});
