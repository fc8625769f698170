import path from "node:path";
import { CST_BATCH_VERSION } from "../version.js";
import { CstError, errnoCode } from "../errors.js";
import { currentPlanPath, planFilePath, relativeTaskDir, studyLinkChecked, taskKey } from "../layout.js";
import type { CsttoolOptions } from "../schemas/options.js";
import type { TaskInput } from "../schemas/records.js";
import { PlanHeaderSchema, PlanTaskSchema, type InvalidSubject, type Plan, type PlanHeader, type PlanTask, type PlanTaskRef, type SkippedSubject } from "../schemas/plan.js";
import { splitInvalid } from "./invalid.js";
import { assertNoLinks } from "../util/confined-fs.js";
import { recordEvent } from "../events/events.js";
import { writeStudySettings } from "../study/settings.js";
import { resolveCsttool } from "./csttool.js";
import { discoverBids } from "./discovery.js";
import { configHasher } from "./hash.js";
import { loadManifestSource } from "./manifest.js";
import { mergeLayers, resolveTaskOptions, validateCliOptions } from "./options.js";
import { checkCsttoolAtlas } from "./atlas-check.js";
import { checkFreeSpace, checkOptionsOffered, checkOutputDir, type DiskCheck } from "./preflight.js";
import { checkContainerBinds } from "./container-binds.js";
import { checkOutOverlap } from "./overlap.js";
import { hasErrors, problem, sortProblems, type Problem } from "./problems.js";
import { PLAN_DEFAULTS, type PlanRequest } from "./request.js";
import { checkRequest, checkUniqueness } from "./request-checks.js";
import type { SourceEntry, SourceResult } from "./source.js";
import { inputRootOf } from "./plan-format.js";
import { resumeStates } from "./resume-states.js";
import { collectGarbage } from "../util/collect-garbage.js";
import { keepSameContent } from "./content-hash.js";
import { HashCache } from "./hash-cache.js";
import { ChangeReasons, previousPlan, reconcileReplan, type ReplanGroup, type ResumeInfo, type ResumeState } from "./replan.js";
import type { PlanDraft } from "./write-plan.js";
import { planHeaderLine, planIdOf, writePlanStream } from "./write-plan-stream.js";
import { encodeTaskLine } from "./plan-format.js";
import { CompactNiftiInput, plainInput } from "./compact-input.js";
import { loadPlan as loadPlanFile, loadPlanRefs, planTaskRef } from "./load-plan.js";

export { loadPlan, loadPlanTask } from "./load-plan.js";

export type { ResumeState } from "./replan.js";

export interface PlanPreview {
  plan_id: string;
  /** The immutable plan file (`plans/<plan_id>.jsonl`) and the current plan (`plan.jsonl`). */
  plan_path: string;
  current_plan_path: string;
  /** False for a dry run: the paths above are where a real run would write. */
  written: boolean;
  out_dir: string;
  source: Plan["source"];
  csttool: Plan["csttool"];
  task_count: number;
  /** done: `_done.json` with the same config hash; changed: done with another hash (will rerun); new: never done. */
  resume: { done: number; changed: number; new: number; to_run: number };
  /** What changes against the current plan, per reason (empty for a study's first plan). */
  changes: ReplanGroup[];
  /** Done tasks whose configuration changed, kept done because `rerunChanged` was not given. */
  kept_changed: number;
  by_input: { nifti: number; dicom: number };
  /** Task count per session label; `(none)` for session-less tasks. */
  by_session: Record<string, number>;
  first_tasks: { index: number; key: string; input: "nifti" | "dicom"; state: ResumeState }[];
  skipped: SkippedSubject[];
  /** Subjects planned as `invalid` (--skip-invalid), with their problems. */
  invalid: InvalidSubject[];
  /** Subjects left out by --include/--exclude. */
  excluded: number;
  /** Warnings (skipped subjects, unreadable DICOM files, csttool not on this host, ...). */
  warnings: Problem[];
  disk: DiskCheck | null;
}

/**
 * What `createPlan` gives back. A planned study's tasks are not in it (200,000 of them would hold
 * hundreds of MB): `plan` is the plan's header line, `loadPlan()` reads the whole plan (header
 * and tasks) when a caller needs it, `loadRefs()` the header and each task's reference (what
 * status and submit need), from the written file (or, for a dry run, from the tasks kept in
 * memory for it). docs/library.md.
 */
export type PlanOutcome =
  | { kind: "planned"; plan: PlanHeader; planPath: string; preview: PlanPreview; loadPlan: () => Promise<Plan>; loadRefs: () => Promise<PlanHeader & { tasks: PlanTaskRef[] }> }
  | { kind: "problems"; problems: Problem[] };

const PREVIEW_TASKS = 10;

/** `sub-001` before `sub-002`; a subject's session-less task first, then its sessions. */
export function compareTaskOrder(a: { subject: string; session: string | null }, b: { subject: string; session: string | null }): number {
  if (a.subject !== b.subject) return a.subject < b.subject ? -1 : 1;
  const sa = a.session ?? "";
  const sb = b.session ?? "";
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function inputBytes(task: PlanTask): number {
  if (task.input instanceof CompactNiftiInput) return task.input.bytes;
  return task.input.kind === "nifti" ? task.input.identity.reduce((n, f) => n + f.size, 0) : task.input.identity.total_size;
}

// One object literal with every field (no spread): its properties sit in the object (200,000 tasks).
function buildTask(index: number, entry: SourceEntry, options: CsttoolOptions, hashOf: (options: CsttoolOptions, input: TaskInput) => string): PlanTask {
  return {
    index,
    key: taskKey(entry.subject, entry.session),
    subject: entry.subject,
    session: entry.session,
    input: entry.input,
    options,
    config_hash: hashOf(options, entry.input),
    output_dir: relativeTaskDir(entry.subject, entry.session),
  };
}

/**
 * Discover or read the subjects, run every preflight check, and write the plan. Returns the plan
 * and a preview, or every problem found (then nothing is written).
 */
export async function createPlan(request: PlanRequest): Promise<PlanOutcome> {
  const cwd = request.cwd ?? process.cwd();
  const env = request.env ?? process.env;
  const problems: Problem[] = checkRequest(request);
  if (hasErrors(problems)) return { kind: "problems", problems };

  const out = path.resolve(cwd, request.out);
  const bidsDir = request.bidsDir ? path.resolve(cwd, request.bidsDir) : null;
  const filter = { include: request.include ?? [], exclude: request.exclude ?? [] };
  const cli = validateCliOptions(request.options, request.optionTexts);
  problems.push(...cli.problems);

  // The current plan's keys and config hashes, read before the study is discovered: the scan's
  // garbage is collected while the heap is small (a re-plan of 200,000 tasks in bounded memory).
  const previous = await previousPlan(out);

  // First: csttool's probes are spawned now and run beside the (synchronous) discovery.
  const csttoolPromise = resolveCsttool({ csttool: request.csttool ?? PLAN_DEFAULTS.csttool, version: request.csttoolVersion ?? null, cwd, env });
  let manifestMeta: { path: string; name: string | null; description: string | null; options: CsttoolOptions } | null = null;
  const sourcePromise: Promise<SourceResult> = bidsDir
    ? discoverBids({
        bidsDir,
        subjectPattern: request.subjectPattern ?? PLAN_DEFAULTS.subjectPattern,
        sessionPattern: request.sessionPattern ?? PLAN_DEFAULTS.sessionPattern,
        dwiFilter: request.dwiFilter ?? null,
        ...filter,
      })
    : loadManifestSource(path.resolve(cwd, request.manifest as string), filter).then((m) => {
        manifestMeta = { path: m.manifestPath, name: m.name, description: m.description, options: m.options };
        return m;
      });
  const [source, csttool, output] = await Promise.all([
    sourcePromise,
    csttoolPromise,
    checkOutputDir(out),
  ]);
  const meta = manifestMeta as { path: string; name: string | null; description: string | null; options: CsttoolOptions } | null;
  problems.push(...source.problems, ...csttool.problems, ...output.problems);
  const sorted = [...source.entries].sort(compareTaskOrder);
  problems.push(...checkUniqueness(sorted));
  const overlap = checkOutOverlap(out, { bidsDir, manifestPath: meta?.path ?? null, entries: source.entries });
  problems.push(...overlap);
  if (request.container) problems.push(...checkContainerBinds(out, source.entries, request.container.runtime));
  if (source.entries.length === 0 && !hasErrors(problems)) {
    problems.push(problem("error", "discovery", "no subject to plan: every subject was skipped", "see the skipped subjects above"));
  }

  const manifestOptions = meta?.options ?? {};
  const executable = csttool.ok ? csttool.executable : (request.csttool ?? PLAN_DEFAULTS.csttool);
  const version = csttool.ok ? csttool.version : "unknown";
  const built: PlanTask[] = [];
  const validated = new Map<string, boolean>();
  // Most tasks share their options: one object for each distinct set (a study held in bounded memory).
  const interned = new Map<string, CsttoolOptions>();
  // The same subject layer (most subjects have none: undefined, or one shared object) merges to the same options.
  const bySubjectLayer = new Map<CsttoolOptions | undefined, CsttoolOptions>();
  const hashOf = configHasher(version);
  for (const entry of sorted) {
    let options = bySubjectLayer.get(entry.options);
    if (options === undefined) {
      const resolved = resolveTaskOptions({ manifest: manifestOptions, subject: entry.options, cli: cli.options }, entry, validated);
      problems.push(...resolved.problems);
      const text = JSON.stringify(resolved.options);
      options = interned.get(text) ?? resolved.options;
      interned.set(text, options);
      // With problems it is merged again for each subject, so each problem names its subject.
      if (resolved.problems.length === 0) bySubjectLayer.set(entry.options, options);
    }
    built.push(buildTask(built.length, entry, options, hashOf));
  }
  // The tasks hold what they need of the entries: the entries go (a study of 200,000 in bounded memory).
  sorted.length = 0;
  source.entries.length = 0;
  // Discovery's garbage sits in the old generation: collected now, before the done records are read (docs/scale.md).
  collectGarbage(built.length);
  if (csttool.ok) {
    problems.push(...checkOptionsOffered(built, csttool.capabilities, version));
    if (!request.container) problems.push(...(await checkCsttoolAtlas(executable, env, csttool.capabilities, request.allowMissingAtlas ?? false)));
  }

  let invalid: InvalidSubject[] = [];
  if (request.skipInvalid === true) {
    const split = splitInvalid(problems, built);
    invalid = split.invalid;
    problems.splice(0, problems.length, ...split.problems);
    built.splice(0, built.length, ...split.tasks);
  }
  const resume = csttool.ok ? await resumeStates(out, built, previous === null ? undefined : (key) => previous.hashOf(key)) : built.map((): ResumeInfo => ({ state: "new", doneHash: null }));
  // And the done records' (188,000 read at 200,000 tasks: 380 MB peak with one collection, 370 MB with both).
  collectGarbage(built.length);
  // What the content check learns is staged and put in place only with the plan (src/plan/hash-cache.ts).
  const hashes = new HashCache(out, request.dryRun !== true);
  let replan: ReturnType<typeof reconcileReplan>;
  try {
    // One set of known previous options for both: a task they explain is never read back for them.
    const reasons = new ChangeReasons({ before: previous?.version ?? null, after: version });
    const same = csttool.ok ? await keepSameContent({ out, tasks: built, resume, previous, cache: hashes, sameVersion: previous?.version === version, remember: request.dryRun !== true, reasons }) : { tasks: built, resume, sameContent: new Set<string>(), contentChanged: new Set<string>() };
    replan = reconcileReplan({
      tasks: same.tasks,
      resume: same.resume,
      previous,
      previousVersion: previous?.version ?? null,
      version,
      rerunChanged: request.rerunChanged === true,
      sameContent: same.sameContent,
      contentChanged: same.contentChanged,
      reasons,
    });
  } catch (e) {
    hashes.discard();
    throw e;
  } finally {
    previous?.close();
  }
  const tasks = replan.tasks;
  const states = replan.states;
  let disk: DiskCheck | null = null;
  if (output.problems.length === 0 && overlap.length === 0) {
    const pendingSizes = tasks.filter((_, i) => states[i] !== "done").map(inputBytes);
    const d = await checkFreeSpace(output.existing, pendingSizes, { minFreeGb: request.minFreeGb ?? null, skip: request.skipDiskCheck ?? false });
    problems.push(...d.problems);
    disk = d.disk;
  }
  if (hasErrors(problems)) {
    hashes.discard();
    return { kind: "problems", problems: sortProblems(problems) };
  }

  const planSource: Plan["source"] = bidsDir
    ? { type: "bids", bids_dir: bidsDir }
    : { type: "manifest", manifest_path: meta?.path ?? "", name: meta?.name ?? null, description: meta?.description ?? null };
  const draft: PlanDraft = {
    cst_batch_version: CST_BATCH_VERSION,
    out_dir: out,
    source: planSource,
    csttool: { executable, version },
    csttool_capabilities: csttool.ok ? csttool.capabilities : undefined,
    options: mergeLayers({ manifest: manifestOptions, cli: cli.options }),
    run: {
      timeout_minutes: request.timeoutMinutes ?? PLAN_DEFAULTS.timeoutMinutes,
      grace_seconds: request.graceSeconds ?? PLAN_DEFAULTS.graceSeconds,
    },
    task_count: tasks.length,
    skipped: [...source.skipped].sort(compareTaskOrder),
    // Only when there are any: a plan without them keeps the fields (and its id) it always had.
    ...(invalid.length > 0 ? { invalid } : {}),
    ...(source.excluded !== undefined && source.excluded.length > 0 ? { excluded: [...new Set(source.excluded)].sort() } : {}),
    input_root: inputRootOf(planSource),
  };
  assertPlanShape(draft, tasks);

  let header: PlanHeader;
  let planPath: string;
  const now = (request.now ?? (() => new Date()))();
  try {
    assertNoLinks(out, studyLinkChecked(out));
    if (request.dryRun === true) {
      // Looking changes nothing: the id a real run would write, the lines encoded and hashed only.
      const planId = planIdOf(draft, tasks);
      planPath = planFilePath(out, planId);
      header = { schema_version: 2, kind: "cst-batch-plan", plan_id: planId, created_at: now.toISOString(), ...draft } as PlanHeader;
    } else {
      // Each task line is encoded, hashed and written as it comes (src/plan/write-plan-stream.ts).
      const written = writePlanStream(out, draft, tasks, now);
      hashes.commit();
      if (request.studySettings) writeStudySettings(out, request.studySettings, { csttool_executable: executable, csttool_version: version, plan_id: written.header.plan_id }, now);
      planPath = written.planPath;
      header = written.header;
    }
  } catch (e) {
    hashes.discard();
    const [message, fix] =
      e instanceof CstError
        ? [e.message, e.hint ?? "check --out"]
        : [`cannot write the plan into ${out} (${errnoCode(e) ?? (e as Error).message})`, "check --out: permissions, free space"];
    return { kind: "problems", problems: [problem("error", "output", message, fix)] };
  }
  const planId = header.plan_id;
  const plan = header;

  const warnings = sortProblems(problems.filter((p) => p.severity === "warning"));
  const bySession: Record<string, number> = {};
  for (const t of tasks) bySession[t.session ?? "(none)"] = (bySession[t.session ?? "(none)"] ?? 0) + 1;
  const count = (s: ResumeState): number => states.filter((x) => x === s).length;
  let niftiCount = 0;
  for (const t of tasks) if (t.input.kind === "nifti") niftiCount++;
  const preview: PlanPreview = {
    plan_id: planId,
    plan_path: planPath,
    current_plan_path: currentPlanPath(out),
    written: request.dryRun !== true,
    out_dir: out,
    source: plan.source,
    csttool: plan.csttool,
    task_count: tasks.length,
    resume: { done: count("done"), changed: count("changed"), new: count("new"), to_run: tasks.length - count("done") },
    changes: replan.groups,
    kept_changed: replan.kept,
    by_input: { nifti: niftiCount, dicom: tasks.length - niftiCount },
    by_session: bySession,
    first_tasks: tasks.slice(0, PREVIEW_TASKS).map((t, i) => ({ index: t.index, key: t.key, input: t.input.kind, state: states[i] as ResumeState })),
    skipped: plan.skipped,
    invalid,
    excluded: new Set(source.excluded ?? []).size,
    warnings,
    disk,
  };
  const r = preview.resume;
  if (request.dryRun !== true) recordEvent(out, { event: "planned", plan_id: planId, tasks: tasks.length, to_run: r.to_run, done: r.done, changed: r.changed, new: r.new, skipped: plan.skipped.length, source: plan.source.type });
  // A dry run keeps its tasks for loadPlan (nothing was written to read them from).
  const kept = request.dryRun === true ? tasks : null;
  const writtenPath = planPath;
  const loadPlan = async (): Promise<Plan> => (kept === null ? loadPlanFile(writtenPath) : { ...header, tasks: kept.map((t) => ({ ...t, input: plainInput(t.input) })) });
  const loadRefs = async (): Promise<PlanHeader & { tasks: PlanTaskRef[] }> => (kept === null ? loadPlanRefs(writtenPath, out) : { ...header, tasks: kept.map(planTaskRef) });
  return { kind: "planned", plan, planPath, preview, loadPlan, loadRefs };
}

/**
 * A bug guard: the plan this code built must load again. Every task is built by the same code,
 * so the header and the line of one task of each input kind are validated (the whole list costs
 * ~100 ms at 10,000 tasks).
 */
function assertPlanShape(draft: PlanDraft, tasks: readonly PlanTask[]): void {
  const issues: string[] = [];
  const base = { schema_version: 2, kind: "cst-batch-plan", plan_id: "0".repeat(16), ...draft } as Omit<PlanHeader, "created_at">;
  const header = PlanHeaderSchema.safeParse({ ...JSON.parse(planHeaderLine(base, "")) });
  if (!header.success) issues.push(...header.error.issues.map((i) => `header.${i.path.join(".")}: ${i.message}`));
  for (const kind of ["nifti", "dicom"] as const) {
    const at = tasks.findIndex((t) => t.input.kind === kind);
    if (at < 0) continue;
    const line = PlanTaskSchema.safeParse(JSON.parse(encodeTaskLine(tasks[at] as PlanTask, draft.input_root)));
    if (!line.success) issues.push(...line.error.issues.map((i) => `tasks[${at}].${i.path.join(".")}: ${i.message}`));
  }
  if (issues.length > 0) throw new Error(`internal: the plan does not match its schema: ${issues.slice(0, 3).join("; ")}`);
}
