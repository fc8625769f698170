import { existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CstError } from "../../../src/errors.js";
import { PLAN_DEFAULTS } from "../../../src/plan/request.js";
import { submitStudy, type StudySubmitEvent, type StudySubmitRequest } from "../../../src/submit/submit-study.js";
import { makeDemoBids, STANDIN, tempDir } from "../../helpers/cli.js";

/** `submitStudy`, the library behind `cst-batch submit`: one call, a tagged result, events to show. */
const root = tempDir("cst-submit-study-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const bids = makeDemoBids(path.join(root, "bids"));
const emptyBin = path.join(root, "empty-bin");
mkdirSync(emptyBin);
let n = 0;

function request(extra: Partial<StudySubmitRequest>, events: StudySubmitEvent[]): StudySubmitRequest {
  return {
    plan: { bidsDir: bids, out: path.join(root, `out-${n++}`), csttool: STANDIN },
    profile: { disabled: true },
    // Neither sbatch nor qstat: detection finds no scheduler, max-array-size queries fall back.
    env: { PATH: emptyBin },
    onEvent: (e) => events.push(e),
    ...extra,
  };
}

async function usageError(p: Promise<unknown>): Promise<CstError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(CstError);
  expect((e as CstError).code).toBe("USAGE");
  return e as CstError;
}

describe("submitStudy", () => {
  it("--scheduler auto without sbatch or qsub runs locally; a dry run says what would run, runs nothing", async () => {
    const events: StudySubmitEvent[] = [];
    const result = await submitStudy(request({ dryRun: true, schedulerFlags: { time: "1h", mem: "4G" } }, events));
    expect(result.kind).toBe("local");
    if (result.kind !== "local" || result.local.kind !== "dry-run") throw new Error("expected a local dry run");
    expect(result.local.tasks).toHaveLength(4);
    expect(events.map((e) => e.type)).toEqual(["scheduler-detected", "ignored-in-local-mode", "planned", "selected"]);
    expect(events[0]).toMatchObject({ detected: { kind: "local" } });
    expect(events[1]).toEqual({ type: "ignored-in-local-mode", keys: ["time", "mem"] });
  });

  it("a batch dry run renders the scripts; without --time the plan's default timeout sets the walltime", async () => {
    const events: StudySubmitEvent[] = [];
    const result = await submitStudy(request({ scheduler: "slurm", dryRun: true, jobs: 2 }, events));
    if (result.kind !== "batch" || result.submit.kind !== "dry-run") throw new Error("expected a batch dry run");
    expect(result.scheduler).toBe("slurm");
    expect(result.submit.timing.timeoutMinutes).toBe(PLAN_DEFAULTS.timeoutMinutes);
    expect(result.submit.timing.timeoutSource).toBe("plan");
    expect(events).toContainEqual({ type: "warning", message: expect.stringMatching(/--jobs is for local mode/) });
  });

  it("settings that cannot work fail before planning: nothing is written", async () => {
    const short = request({ scheduler: "slurm", schedulerFlags: { time: "1m" } }, []);
    expect((await usageError(submitStudy(short))).message).toMatch(/too short/);
    expect(existsSync(path.join(short.plan.out, ".cst-batch"))).toBe(false);
    await usageError(submitStudy(request({ scheduler: "pbs", force: true }, [])));
    await usageError(submitStudy(request({ scheduler: "condor" }, [])));
    await usageError(submitStudy(request({ scheduler: "local", jobs: 0 }, [])));
  });

  it("preflight errors come back as the problems outcome", async () => {
    const result = await submitStudy(request({ scheduler: "local", plan: { bidsDir: path.join(root, "missing"), out: path.join(root, "out-x"), csttool: STANDIN } }, []));
    expect(result.kind).toBe("problems");
  });
});
