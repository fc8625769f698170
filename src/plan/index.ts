/** The plan side of cst-batch: discovery, manifests, DICOM series, preflight, the frozen plan. */
export { createPlan, compareTaskOrder, loadPlan, loadPlanTask, type PlanOutcome, type PlanPreview, type ResumeState } from "./planner.js";
export type { PlanRequest } from "./request.js";
export { PLAN_DEFAULTS } from "./request.js";
export type { Problem, ProblemCategory } from "./problems.js";
export { PROBLEM_CATEGORIES } from "./problems.js";
export { selectDicomSeriesFiles, scanDicomDir, readDicomFile, parseDicomHeader } from "./dicom.js";
export { discoverBids } from "./discovery.js";
export { loadManifestSource } from "./manifest.js";
export { normalizeSubjectId, normalizeSessionId, idLabel } from "./ids.js";
export { configHash, canonicalJson } from "./hash.js";
export { EXAMPLE_MANIFEST } from "./example-manifest.js";
