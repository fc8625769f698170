/**
 * cst-batch as a library (`import { plan, collect } from "cst-batch"`): the functions behind each
 * command, with their inputs and results. They return values or throw `CstError`; none prints or
 * exits (that is the CLI's part, src/cli/).
 */
export { createPlan as plan, type PlanOutcome, type PlanPreview, type ResumeState } from "./plan/planner.js";
export { PLAN_DEFAULTS, type PlanRequest } from "./plan/request.js";
export { loadPlan } from "./plan/load-plan.js";
export type { ReplanGroup } from "./plan/replan.js";
export { readStudySettings, resolveStudySettings, mergeSettings, STUDY_SETTINGS, type ResolvedSettings, type SettingSpec } from "./study/settings.js";
export type { StudySettingsFile, StudySettingsValues, SettingsChange } from "./schemas/settings.js";
export type { SetAside } from "./study/set-aside.js";
export type { Problem, ProblemCategory } from "./plan/problems.js";
export { submitToScheduler as submit, type SubmitRequest, type SubmitResult } from "./submit/submit.js";
export { submitStudy, type StudySubmitRequest, type StudySubmitResult, type StudySubmitEvent } from "./submit/submit-study.js";
export { runLocal, type LocalRunOptions, type LocalRunResult, type LocalTaskResult, type LocalProgress } from "./local/run-local.js";
export { runLocalStudy, type LocalStudyRequest, type LocalStudyResult, type LocalStudyEvent } from "./local/run-study.js";
export { runOne, type RunOneOptions, type RunOneOutcome, type RunOneEvent, type TaskRef } from "./run/run-one.js";
export { resolveRunTargets, runTargets, type RunTargetRequest, type RunTarget } from "./run/run-targets.js";
export { collect, type CollectOptions, type CollectResult } from "./collect/collect.js";
export { readStatus as status, streamStatus, type StatusOptions, type StatusReport, type StatusOverview } from "./status/status.js";
export { resubmit, type ResubmitRequest, type ResubmitResult, type ResubmitGroup } from "./resubmit/resubmit.js";
export { cancelStudy as cancel, type CancelRequest, type CancelResult, type CancelTarget } from "./cancel/cancel.js";
export { summarizeStatus, type StatusSummary } from "./status/summary.js";
export { readEvents, eventFiles, type EventRecord, type EventReadStats } from "./events/read-events.js";
export { CstError, EXIT, type ErrorCode, type ExitCode } from "./errors.js";
export type { Plan, PlanTask, DoneRecord, AttemptRecord, FailureCategory } from "./schemas/records.js";
