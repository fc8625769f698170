import type { Command } from "commander";
import { EXIT, type ExitCode } from "../../errors.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import type { PlanOutcome, PlanPreview } from "../../plan/planner.js";
import type { Problem } from "../../plan/problems.js";
import { formatReplanGroup } from "../../plan/replan.js";
import type { PlanRequest } from "../../plan/request.js";
import { addPlanFlags, planRequestFromFlags } from "../plan-flags.js";
import { color, out } from "../output.js";
import { nextAfterPlan, printNext } from "../next-command.js";
import { reportSettings, settingsJson, studySettingsFor } from "../settings-flags.js";
import type { SetExit } from "./set-exit.js";

const HELP_AFTER = `
Examples:
  $ cst-batch plan --bids-dir /data/study --out /scratch/study-cst
  $ cst-batch plan --bids-dir /data/study --out results --session-pattern 'ses-0[12]' --exclude 'sub-9*'
  $ cst-batch plan --bids-dir /data/study --out results --dwi-filter '*_acq-multiband_*'
  $ cst-batch plan --manifest study.jsonc --out results --fa-thr 0.15 --no-save-visualizations
  $ cst-batch plan --manifest study.jsonc --out results --csttool-version 0.5.0   # csttool in a container

BIDS layout: <bids>/sub-X/[ses-Y/]dwi/*_dwi.nii.gz (or .nii) with the same-stem .bval and
.bvec (and optional .json). Without a NIfTI, DICOM files are taken from the first of dwi/,
dwi/dicom/ and dicom/ (files with the DICM marker, or .dcm/.ima); a folder holding several
series is skipped and listed (use a manifest with "series_uid" for it).

Preflight checks every subject and prints every problem; nothing is written when there is an
error. Free disk: 4x the input size + 300 MB per task still to run (--min-free-gb N to set the
requirement yourself, --skip-disk-check to skip). Re-planning into the same --out keeps done
subjects done (same config hash); changed ones rerun.

The plan goes to <out>/.cst-batch/plans/<plan_id>.jsonl (immutable) and <out>/.cst-batch/plan.jsonl.

${exitCodesHelp([EXIT.OK, EXIT.USAGE, EXIT.PREFLIGHT, EXIT.SYSTEM])}`;

/** One problem per line block: severity, who, what, and how to fix it. */
export function formatProblem(p: Problem): string {
  const who = [p.subject, p.session].filter(Boolean).join(" ");
  return `[${p.category}]${who ? ` ${who}:` : ""} ${p.message}\n    fix: ${p.fix}`;
}

/** Problems of one severity and category printed one by one before the rest are summed up. */
const MAX_PROBLEMS_PER_KIND = 20;

export function printProblems(problems: readonly Problem[]): void {
  // A 50,000-subject manifest with its data missing must not print 50,000 blocks.
  const seen = new Map<string, number>();
  for (const p of problems) {
    const kind = `${p.severity}:${p.category}`;
    const n = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, n);
    if (n > MAX_PROBLEMS_PER_KIND) continue;
    if (p.severity === "error") out.error(formatProblem(p));
    else out.warn(formatProblem(p));
  }
  for (const [kind, n] of seen) {
    if (n <= MAX_PROBLEMS_PER_KIND) continue;
    const [severity, category] = kind.split(":");
    const line = `... and ${n - MAX_PROBLEMS_PER_KIND} more [${category}] ${severity === "error" ? "errors" : "warnings"} like these (${n} in all; --json lists every one)`;
    if (severity === "error") out.error(line);
    else out.warn(line);
  }
}

/** Reason lines shown before the rest are summed up. */
const MAX_CHANGE_LINES = 20;

/** The human preview of a written plan (stderr). */
export function formatPlanPreview(preview: PlanPreview): string {
  const lines: string[] = [];
  const src = preview.source.type === "bids" ? `BIDS ${preview.source.bids_dir}` : `manifest ${preview.source.manifest_path}`;
  lines.push(`${color("1", `planned ${preview.task_count} task(s)`)} from ${src}`);
  lines.push(`  csttool ${preview.csttool.version} (${preview.csttool.executable})`);
  lines.push(`  input: ${preview.by_input.nifti} NIfTI, ${preview.by_input.dicom} DICOM`);
  const sessions = Object.entries(preview.by_session)
    .map(([s, n]) => `${s} ${n}`)
    .join(", ");
  lines.push(`  sessions: ${sessions}`);
  const r = preview.resume;
  const will = preview.written ? "will" : "would";
  lines.push(`  resume: ${r.done} done (kept), ${r.changed} changed (${will} rerun), ${r.new} new -> ${r.to_run} to run`);
  if (preview.changes.length > 0) {
    lines.push(`  changes against the current plan:`);
    for (const g of preview.changes.slice(0, MAX_CHANGE_LINES)) lines.push(`    ${formatReplanGroup(g, !preview.written)}`);
    if (preview.changes.length > MAX_CHANGE_LINES) lines.push(`    ... and ${preview.changes.length - MAX_CHANGE_LINES} more reason(s) (--json lists every one)`);
  }
  if (preview.kept_changed > 0) {
    lines.push(`  ${preview.kept_changed} done subject(s) changed and keep their results; to rerun them, give the same command with --rerun-changed`);
  }
  if (preview.disk?.checked && preview.disk.free_bytes !== null) {
    const gb = (n: number): string => (n / 1024 ** 3).toFixed(1);
    lines.push(`  disk: ${gb(preview.disk.free_bytes)} GB free, ${gb(preview.disk.required_bytes)} GB needed (${preview.disk.basis})`);
  }
  lines.push("  first tasks:");
  for (const t of preview.first_tasks) lines.push(`    ${String(t.index).padStart(5)}  ${t.key}  ${t.input}  ${t.state}`);
  if (preview.task_count > preview.first_tasks.length) lines.push(`    ... and ${preview.task_count - preview.first_tasks.length} more`);
  if (preview.skipped.length > 0) lines.push(`  skipped: ${preview.skipped.length} (see the warnings above)`);
  if (preview.invalid.length > 0) {
    const keys = preview.invalid.map((i) => i.key);
    lines.push(`  invalid: ${keys.length} (${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", ..." : ""}): not run; fix them (see the warnings above), then plan again`);
  }
  if (preview.excluded > 0) lines.push(`  excluded: ${preview.excluded} subject(s) (--include/--exclude)`);
  if (preview.written) {
    lines.push(`plan: ${preview.plan_path}`);
    lines.push(`current plan: ${preview.current_plan_path}`);
  } else {
    lines.push(`dry run: nothing written; a real run would write the plan ${preview.plan_path}`);
  }
  return lines.join("\n");
}

/** The JSON printed by `plan --json`: the outcome, with the task list left in the plan file. */
export function outcomeJson(outcome: PlanOutcome): unknown {
  if (outcome.kind === "problems") return outcome;
  return { kind: outcome.kind, planPath: outcome.planPath, preview: outcome.preview, plan: outcome.plan };
}

/** `cst-batch plan`: discover subjects, run preflight, write the frozen plan. */
export function registerPlanCommand(program: Command, setExit: SetExit): void {
  const cmd = program
    .command("plan")
    .description("find the subjects (BIDS folder or manifest), check everything, and write the plan");
  cmd.option("--dry-run", "show the plan (and what changes against the current one); write nothing");
  addPlanFlags(cmd);
  cmd.addHelpText("after", HELP_AFTER);
  cmd.action(async (typed: Record<string, unknown>) => {
    const { opts, settings } = studySettingsFor(cmd, typed);
    const dryRun = opts.dryRun === true;
    const json = opts.json === true;
    const planned = await planAndReport({ ...planRequestFromFlags(opts), dryRun, studySettings: settings }, json);
    if (typeof planned === "number") {
      setExit(planned);
      return;
    }
    const next = nextAfterPlan(planned.preview.out_dir, !dryRun);
    if (json) out.json({ ...(outcomeJson(planned) as object), settings: settingsJson(settings, !dryRun), next });
    else {
      reportSettings(settings, !dryRun);
      printNext(next);
    }
    setExit(EXIT.OK);
  });
}

/**
 * Plan and print what `plan` prints (problems, warnings, the preview; with `json` the problems
 * outcome on stdout). Returns the planned outcome, or the exit code when preflight found errors.
 */
export async function planAndReport(request: PlanRequest, json: boolean): Promise<Extract<PlanOutcome, { kind: "planned" }> | ExitCode> {
  const { createPlan } = await import("../../plan/planner.js");
  const outcome = await createPlan(request);
  if (outcome.kind === "problems") return reportPlanProblems(outcome, json);
  reportPlanned(outcome, json);
  return outcome;
}

/** A written plan: its warnings, and (without `json`) the preview. `plan` and `submit` both print this. */
export function reportPlanned(outcome: Extract<PlanOutcome, { kind: "planned" }>, json: boolean): void {
  printProblems(outcome.preview.warnings);
  if (!json) out.info(formatPlanPreview(outcome.preview));
}

/** Preflight errors (nothing written): printed, and the exit code (2 for an invalid manifest, 3 otherwise: `exitCodeForProblems`). */
export async function reportPlanProblems(outcome: Extract<PlanOutcome, { kind: "problems" }>, json: boolean): Promise<ExitCode> {
  const { exitCodeForProblems } = await import("../../plan/problems.js");
  if (json) out.json(outcomeJson(outcome));
  printProblems(outcome.problems);
  const errors = outcome.problems.filter((p) => p.severity === "error").length;
  out.error(`preflight found ${errors} error(s); no plan written`);
  const bySubject = new Set(outcome.problems.filter((p) => p.severity === "error" && p.subject).map((p) => p.subject));
  const global = outcome.problems.some((p) => p.severity === "error" && !p.subject);
  if (bySubject.size > 0 && !global) {
    out.error(`to run the other subjects now and these ${bySubject.size} later: give the same command with --skip-invalid (they are recorded as invalid, and planned once fixed)`);
  }
  return exitCodeForProblems(outcome.problems);
}
