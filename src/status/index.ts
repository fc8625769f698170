export { readStatus, streamStatus, type StatusOptions, type StatusOverview, type StatusReport } from "./status.js";
export { deriveTaskStatus, elementIdOf, parseElementId, schedulerCategory, STATUS_STATES, type StatusRow, type StatusState, type WriteBack } from "./derive.js";
export { querySchedulerView, elementKey, jobSequence, type SchedulerView, type CommandRunner } from "./scheduler-view.js";
export { readSubmissions, latestPlacements, type Placement } from "./submissions.js";
export { applyWriteBack, type WriteBackOutcome } from "./write-back.js";
export { parseCategoryList } from "../failures/categories.js";
