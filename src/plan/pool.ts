export { mapLimit } from "../util/map-limit.js";

/** How many file-system operations discovery and preflight keep in flight. */
export const FS_CONCURRENCY = 64;
