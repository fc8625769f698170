import { describe, expect, it } from "vitest";
import { EXIT, EXIT_CODES } from "../../../src/errors.js";
import { CATALOGUE, FAILURE_CATEGORIES, FAILURE_ENTRIES, nextStepFor, type FailureCategory, type StudyRef } from "../../../src/failures/catalogue.js";
import { parseCategoryList } from "../../../src/failures/categories.js";
import { failureCategoryForState, SLURM_FAILURE_STATES } from "../../../src/failures/scheduler-states.js";
import { CANCEL_SIGNALS, STOP_SIGNALS, stopSignalCategory } from "../../../src/failures/signals.js";
import { studyOfPlan, nextStepsFor } from "../../../src/failures/study.js";
import { FailureCategorySchema } from "../../../src/schemas/records.js";
import { mapSlurmState, parseSlurmSacct } from "../../../src/schedulers/slurm.js";
import { classifyPbsExit } from "../../../src/schedulers/pbs-common.js";
import { mapPbsProState, parsePbsProQstat } from "../../../src/schedulers/pbs-pro.js";
import { mapTorqueState, parseTorqueQstat } from "../../../src/schedulers/torque.js";
import type { TaskSchedulerState } from "../../../src/schedulers/types.js";
import { schedulerCategory } from "../../../src/status/derive.js";
import { runCli } from "../../helpers/cli.js";
import { commandsIn } from "../../helpers/shell-words.js";

/** Studies a next step may be written for: a cluster study (whole, one subject), a local one (whole, one task), awkward paths. */
const STUDIES: Record<string, StudyRef> = {
  "cluster study": { out: "/scratch/study", local: false },
  "cluster subject": { out: "/scratch/study", local: false, subjects: ["sub-01_ses-02"], source: { flag: "--manifest", path: "/m/study.jsonc" } },
  "local study": { out: "/data/out", local: true, source: { flag: "--bids-dir", path: "/data/bids" }, timeoutMinutes: 90 },
  "local task": { out: "/data/out", local: true, task: { planFile: "/data/out/.cst-batch/plans/p1.json", index: 7 }, subjects: ["sub-07"], source: { flag: "--bids-dir", path: "/data/bids" }, timeoutMinutes: 30 },
  "paths with blanks and quotes": { out: "/data/my study's out", local: false, subjects: ["sub-01"] },
};


/** Long options a command's `--help` lists (the real CLI's option table). */
const helpCache = new Map<string, Set<string>>();
function optionsOf(command: string): Set<string> {
  let known = helpCache.get(command);
  if (!known) {
    const r = runCli([command, "--help"]);
    expect(r.code, `${command} --help`).toBe(EXIT.OK);
    known = new Set([...r.stdout.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!));
    helpCache.set(command, known);
  }
  return known;
}

describe("the failure catalogue", () => {
  it("has one entry per category of the record schema, in the same order, each with every field", () => {
    expect(Object.keys(CATALOGUE)).toEqual([...FAILURE_CATEGORIES]);
    expect(FailureCategorySchema.options).toEqual([...FAILURE_CATEGORIES]);
    const codes = EXIT_CODES.map((e) => e.code);
    for (const e of FAILURE_ENTRIES) {
      expect(CATALOGUE[e.category]).toBe(e);
      expect(e.meaning, e.category).toMatch(/^[a-z].{10,}[^.]$/);
      expect(e.meaning).not.toContain("\n");
      expect(codes, `${e.category}: exit ${e.exitCode}`).toContain(e.exitCode);
      expect([EXIT.OK, EXIT.INTERNAL, EXIT.USAGE, EXIT.PREFLIGHT, EXIT.LOCK_BUSY, EXIT.INTERRUPTED] as number[]).not.toContain(e.exitCode);
      expect(typeof e.retry.byDefault).toBe("boolean");
      expect(typeof e.retry.profileLimit).toBe("boolean");
      for (const study of Object.values(STUDIES)) expect(e.nextStep(study).length, e.category).toBeGreaterThan(20);
      expect(Array.isArray(e.aliases) && Array.isArray(e.stopSignals) && Array.isArray(e.scheduler.states)).toBe(true);
    }
  });

  it("escalation: TIMEOUT reruns get --time-factor, OUT_OF_MEMORY reruns --mem-factor, nothing else is escalated", () => {
    const escalated = FAILURE_ENTRIES.filter((e) => e.escalation !== null).map((e) => [e.category, e.escalation!.flag]);
    expect(escalated).toEqual([
      ["TIMEOUT", "--time-factor"],
      ["OUT_OF_MEMORY", "--mem-factor"],
    ]);
    for (const e of FAILURE_ENTRIES) if (e.escalation) expect(optionsOf("resubmit")).toContain(e.escalation.flag);
  });

  it("aliases: every category and alias parses as --category (any case), no name means two categories", () => {
    const names = FAILURE_ENTRIES.flatMap((e) => [e.category, ...e.aliases]);
    expect(new Set(names).size).toBe(names.length);
    for (const e of FAILURE_ENTRIES) {
      for (const name of [e.category, ...e.aliases]) expect(parseCategoryList(name.toLowerCase())).toEqual([e.category]);
    }
    expect(parseCategoryList("INPUT,OOM,WALLTIME,PIPELINE,NODE_FAILURE")).toEqual(["INPUT_MISSING", "OUT_OF_MEMORY", "TIMEOUT", "PIPELINE_FAILED", "NODE_FAIL"]);
    expect(() => parseCategoryList("SLOW")).toThrow(/unknown failure category "SLOW".*/);
  });

  it("stop signals: SIGTERM, SIGINT, SIGHUP, SIGUSR2 (Grid Engine's -notify before a kill) are CANCELLED; SIGUSR1 (Slurm's and Grid Engine's s_rt warning), SIGXCPU are TIMEOUT; each signal once", () => {
    expect(new Map(STOP_SIGNALS)).toEqual(
      new Map<NodeJS.Signals, FailureCategory>([
        ["SIGTERM", "CANCELLED"],
        ["SIGINT", "CANCELLED"],
        ["SIGHUP", "CANCELLED"],
        ["SIGUSR2", "CANCELLED"],
        ["SIGUSR1", "TIMEOUT"],
        ["SIGXCPU", "TIMEOUT"],
      ]),
    );
    expect(STOP_SIGNALS).toHaveLength(6);
    expect([...CANCEL_SIGNALS].sort()).toEqual(["SIGHUP", "SIGINT", "SIGTERM", "SIGUSR2"]);
  });

  it("SIGUSR2 is TIMEOUT inside an LSF job (LSF's run limit) and CANCELLED elsewhere (Grid Engine's -notify before a qdel)", () => {
    expect(stopSignalCategory("SIGUSR2", "CANCELLED", { LSB_JOBID: "764254593" })).toBe("TIMEOUT");
    expect(stopSignalCategory("SIGUSR2", "CANCELLED", { JOB_ID: "12", SGE_TASK_ID: "3" })).toBe("CANCELLED");
    expect(stopSignalCategory("SIGTERM", "CANCELLED", { LSB_JOBID: "764254593" })).toBe("CANCELLED");
  });
});

describe("every end a scheduler backend reports maps to a category", () => {
  const ended = (state: TaskSchedulerState["state"], signal: number | null = null): TaskSchedulerState => ({
    jobId: "1",
    arrayIndex: 0,
    state,
    rawState: state,
    reason: null,
    exitCode: 1,
    signal,
    elapsedSeconds: null,
    maxRssKb: null,
    node: null,
  });

  it("Slurm: each state word sacct/squeue can print is known, and each that is not success or still going is a category", () => {
    // sacct(1) "JOB STATE CODES", the long forms sacct -P and squeue -o %T (SQUEUE_FORMAT) print.
    const words = "BOOT_FAIL CANCELLED COMPLETED CONFIGURING COMPLETING DEADLINE FAILED NODE_FAIL OUT_OF_MEMORY PENDING PREEMPTED RUNNING REQUEUED RESIZING REVOKED SUSPENDED TIMEOUT".split(" ");
    for (const w of words) {
      const state = mapSlurmState(w);
      expect(state, w).not.toBe("unknown");
      if (state === "pending" || state === "running" || state === "completed") continue;
      expect(schedulerCategory(ended(state)), w).not.toBeNull();
      expect(schedulerCategory(ended(state, 9)), `${w} with a signal`).not.toBeNull();
    }
    expect(mapSlurmState("CANCELLED by 1234")).toBe("cancelled");
  });

  it("Slurm: every word the catalogue lists is read by the backend as its category (sacct through the parser)", () => {
    for (const e of FAILURE_ENTRIES) {
      for (const word of e.scheduler.slurm) {
        expect(failureCategoryForState(mapSlurmState(word)), word).toBe(e.category);
        const [row] = parseSlurmSacct(`12_3|12|${word}|0:0|00:01:00||node1\n`);
        expect(row && schedulerCategory(row), `sacct ${word}`).toBe(e.category);
      }
    }
    expect(SLURM_FAILURE_STATES.size).toBe(FAILURE_ENTRIES.reduce((n, e) => n + e.scheduler.slurm.length, 0));
  });

  it("PBS Pro and Torque: every exit status of a finished job is success or a category; the catalogue's limit statuses give its category", () => {
    const codes = { walltime: [-29, -11], memory: [-27, -26, -10] };
    for (let status = -40; status <= 300; status++) {
      const { state, signal } = classifyPbsExit(status, null, codes);
      if (state === "completed") continue;
      expect(schedulerCategory(ended(state, signal)), `exit ${status}`).not.toBeNull();
    }
    const qstat = (id: string, exitKey: string, status: number, finished: string): string =>
      `Job Id: ${id}\n    Job_Name = cst\n    job_state = ${finished}\n    ${exitKey} = ${status}\n`;
    for (const e of FAILURE_ENTRIES) {
      for (const status of e.scheduler.pbsPro) {
        const [row] = parsePbsProQstat(qstat("48[2].pbs", "Exit_status", status, "F"));
        expect(row && schedulerCategory(row), `PBS Pro exit ${status}`).toBe(e.category);
      }
      for (const status of e.scheduler.torque) {
        const [row] = parseTorqueQstat(qstat("48[2].torque", "exit_status", status, "C"));
        expect(row && schedulerCategory(row), `Torque exit ${status}`).toBe(e.category);
      }
    }
    // The brief's example: PBS 271 is 256 + SIGTERM, killed by a signal.
    expect(schedulerCategory(ended(classifyPbsExit(271, null, codes).state, 15))).toBe("KILLED");
    for (const code of "QHWTMSURBEXF".split("")) expect(mapPbsProState(code), `PBS Pro ${code}`).not.toBe("unknown");
    for (const code of "QHWTSREC".split("")) expect(mapTorqueState(code), `Torque ${code}`).not.toBe("unknown");
  });

  it("a plain FAILED without a record: KILLED with a signal, SYSTEM without one", () => {
    expect(schedulerCategory(ended("failed", 9))).toBe("KILLED");
    expect(schedulerCategory(ended("failed"))).toBe("SYSTEM");
  });
});

describe("next steps name commands that work for the study", () => {
  it("every cst-batch command a next step names exists, with only options its --help lists, and valid categories", () => {
    let checked = 0;
    for (const [what, study] of Object.entries(STUDIES)) {
      for (const e of FAILURE_ENTRIES) {
        const text = e.nextStep(study);
        const commands = commandsIn(text);
        expect(commands.length, `${e.category} (${what}): ${text}`).toBeGreaterThan(0);
        for (const argv of commands) {
          const [command, ...args] = argv;
          const known = optionsOf(command!);
          for (let i = 0; i < args.length; i++) {
            const a = args[i]!;
            if (!a.startsWith("--")) continue;
            expect(known, `${e.category} (${what}): \`${argv.join(" ")}\` uses ${a}`).toContain(a);
            if (a === "--category") expect(parseCategoryList(args[i + 1]!)).toEqual([e.category]);
            if (a === "--out") expect(args[i + 1]).toBe(study.out);
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(FAILURE_ENTRIES.length * Object.keys(STUDIES).length);
  });

  it("a local study's rerun is resubmit here (it runs locally, without scheduler factors); a cluster study's rerun is resubmit with its factor", () => {
    for (const e of FAILURE_ENTRIES) {
      const study = nextStepFor(e.category, STUDIES["local study"]!);
      expect(study).toContain("`cst-batch resubmit --out /data/out");
      const local = nextStepFor(e.category, STUDIES["local task"]!);
      const localRuns = commandsIn(local).filter((c) => c[0] === "resubmit");
      expect(localRuns.length, e.category).toBeGreaterThan(0);
      for (const c of localRuns) {
        expect(c.join(" ")).toContain("--subjects sub-07");
        expect(c).not.toContain("--time-factor");
        expect(c).not.toContain("--mem-factor");
      }
    const cluster = commandsIn(nextStepFor(e.category, STUDIES["cluster subject"]!)).filter((c) => c[0] === "resubmit");
      expect(cluster.length, e.category).toBeGreaterThan(0);
      for (const c of cluster) expect(c.join(" ")).toContain("--subjects sub-01_ses-02");
      const last = cluster.at(-1)!;
      if (e.escalation) expect(last.slice(-2)).toEqual([e.escalation.flag, String(e.escalation.factor)]);
      else expect(last).not.toContain("--time-factor");
    }
    expect(nextStepFor("TIMEOUT", STUDIES["cluster study"]!)).toContain("`cst-batch resubmit --out /scratch/study --category TIMEOUT --time-factor 2`");
    expect(nextStepFor("TIMEOUT", STUDIES["local task"]!)).toContain("--timeout-minutes 60");
  });

  it("a step that plans again names `plan --out` alone (the study's settings are recorded) and then a rerun that selects the re-planned subject (no --category)", () => {
    for (const [name, study] of Object.entries(STUDIES)) {
      for (const category of ["INPUT_MISSING", "VALIDATION"] as const) {
        const text = nextStepFor(category, study);
        expect(text, `${category} ${name}`).not.toMatch(/flags the plan was made with/);
        const cmds = commandsIn(text);
        const plan = cmds.findIndex((c) => c[0] === "plan");
        expect(cmds[plan], `${category} ${name}`).toEqual(["plan", "--out", study.out]);
        const after = cmds[plan + 1]!;
        expect(after[0]).toBe("resubmit");
        expect(after).not.toContain("--category");
        if (study.subjects) expect(after.join(" ")).toContain(`--subjects ${study.subjects.join(",")}`);
      }
    }
  });

  it("studyOfPlan and nextStepsFor: the plan's source, local or not, one step per category found", () => {
    const study = studyOfPlan("/o", { source: { type: "manifest", manifest_path: "/m.json", name: null, description: null }, run: { timeout_minutes: 10, grace_seconds: 5 } }, true);
    expect(study).toEqual({ out: "/o", local: true, source: { flag: "--manifest", path: "/m.json" }, timeoutMinutes: 10 });
    const steps = nextStepsFor({ OUT_OF_MEMORY: 2, TIMEOUT: 1, NOT_A_CATEGORY: 4 }, study);
    expect(steps.map((s) => [s.category, s.count])).toEqual([
      ["TIMEOUT", 1],
      ["OUT_OF_MEMORY", 2],
    ]);
    expect(steps[0]!.nextStep).toContain("`cst-batch resubmit --out /o --category TIMEOUT --timeout-minutes 20`");
  });
});
