export { resubmit, parseRetryPolicy, type ResubmitRequest, type ResubmitResult, type ResubmitGroup } from "./resubmit.js";
export { selectRerun, type RerunSelection, type SelectOptions } from "./select.js";
export { baseResourcesOf, scaleMem, scaleTime, type BaseResources } from "./resources.js";
