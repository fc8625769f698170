export { submitToScheduler, prepareSubmit, watchCommands, formatArgv, newSubmissionId, SCHEDULER_LOG_SUBDIR } from "./submit.js";
export type { SubmitRequest, SubmitResult, SubmitPreparation, RenderedScript } from "./submit.js";
export { resolveTiming, warningWindowSeconds, minimumWalltimeSeconds, PROMOTION_ALLOWANCE_SECONDS, MIN_TIMEOUT_SECONDS, type Timing, type TimingInput } from "./timing.js";
export { makeChunks, layoutArrays, type ArrayLayout } from "./chunks.js";
export { selectPending, type PendingSelection } from "./pending.js";
export { resolveSubmitSettings, SUBMIT_DEFAULTS, type SubmitFlagValues, type SubmitSettings, type SettingSource } from "./settings.js";
