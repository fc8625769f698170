import { getHeapStatistics } from "node:v8";
import { CstError } from "../errors.js";

/**
 * How many subjects one `plan` can hold in memory, so a manifest too large for this process is
 * refused up front with a clear message instead of ending in V8's out-of-memory abort.
 *
 * Measured (Node 20, plan of a manifest of NIfTI subjects with ~45-character paths, the stand-in
 * csttool): peak heap 66 MB at 5,000 subjects and 208 MB at 20,000, i.e. ~9.5 KB per subject;
 * 20,000 subjects abort with a heap limit of 188 MB and plan with 208 MB. The figure below adds
 * ~25 % for longer paths and DICOM inputs. The memory available is V8's `heap_size_limit`
 * (Node's default, about 4 GB on a machine with 16 GB or more, or `--max-old-space-size`):
 * about 349,000 subjects at 4,144 MB.
 */
export const PLAN_BYTES_PER_SUBJECT = 12 * 1024;
/** cst-batch itself, the schemas and the csttool probe before the first subject. */
export const PLAN_BASE_BYTES = 48 * 1024 * 1024;
/** Reading a manifest of N bytes takes its text (up to 2 bytes a character) and the parsed tree. */
export const MANIFEST_BYTES_FACTOR = 3;

export function heapLimitBytes(): number {
  return getHeapStatistics().heap_size_limit;
}

/** The most subjects a plan can hold with `heapLimit` bytes of heap. */
export function maxPlannableSubjects(heapLimit = heapLimitBytes()): number {
  return Math.max(0, Math.floor((heapLimit - PLAN_BASE_BYTES) / PLAN_BYTES_PER_SUBJECT));
}

const mb = (n: number): string => `${Math.round(n / 1024 / 1024).toLocaleString("en-US")} MB`;
const HINT =
  "split the study into several manifests, each with its own --out, or give Node more heap: NODE_OPTIONS=--max-old-space-size=<MB> (the machine needs that much free memory)";

/** Refuse, before reading it, a manifest file too large to even parse with this heap. */
export function assertManifestBytesFit(file: string, size: number, heapLimit = heapLimitBytes()): void {
  const available = heapLimit - PLAN_BASE_BYTES;
  if (size * MANIFEST_BYTES_FACTOR <= available) return;
  throw new CstError(
    "PREFLIGHT",
    `manifest ${file} is ${mb(size)}: reading it needs about ${mb(size * MANIFEST_BYTES_FACTOR)} of memory, more than this process has (heap limit ${mb(heapLimit)}; plan handles up to ${maxPlannableSubjects(heapLimit).toLocaleString("en-US")} subjects)`,
    { hint: HINT },
  );
}

/** Refuse a manifest whose subjects would need more memory than planning can have. */
export function assertSubjectCountFits(file: string, count: number, heapLimit = heapLimitBytes()): void {
  const max = maxPlannableSubjects(heapLimit);
  if (count <= max) return;
  throw new CstError(
    "PREFLIGHT",
    `manifest ${file} lists ${count.toLocaleString("en-US")} subjects; planning them needs about ${mb(PLAN_BASE_BYTES + count * PLAN_BYTES_PER_SUBJECT)} of memory, and with this process's heap limit of ${mb(heapLimit)} plan handles up to ${max.toLocaleString("en-US")} subjects`,
    { hint: HINT },
  );
}
