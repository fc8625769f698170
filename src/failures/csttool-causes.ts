import { type FailureCategory, type StudyRef } from "./catalogue.js";
import { shellQuote } from "../shell/shell-quote.js";

/**
 * csttool's own cause lines, and what each means for cst-batch: the category and the next step.
 * csttool 0.5.0 exits 0 when a step fails and its pipeline report holds only a generic error
 * ("CST extraction failed or produced no streamlines", "Tracking failed"); the real cause is a
 * line it printed before. The patterns quote csttool 0.5.0's source (paths relative to
 * site-packages/csttool/):
 *
 *   atlas        cli/commands/extract.py:141  `✗ Warping atlases failed: {e}` with e from
 *                data/loader.py: `Harvard-Oxford cortical atlas (1mm) not found.` or
 *                `Checksum verification failed for <file>.`
 *   environment  cli/commands/run.py:90  `✗ Environment check failed. Fix dependencies and retry.`
 *                (cli/commands/doctor.py:169 `✗ User data dir: not writable (...)` names why)
 *   memory       Python's `MemoryError`, numpy's `Unable to allocate 1.2 GiB for an array ...`
 *   input        cli/commands/track.py:53 `✗ Error loading NIfTI: {e}` (gzip's `Compressed file
 *                ended before the end-of-stream marker was reached`, nibabel's ImageFileError)
 *   hemisphere   extraction finds no streamline on one side: it prints `Left CST:       0
 *                streamlines` (cli/commands/extract.py summary), saves no tractogram for that
 *                side, and the metrics step fails with `✗ Metrics failed: No CST tractograms
 *                available` (run.py); also cli/commands/metrics.py:116/133 `✗ Failed to analyze
 *                left|right CST: {e}`, :51/60 `✗ Failed to load left|right CST: {e}`
 */

export type CsttoolCauseId = "memory" | "environment" | "atlas" | "input" | "hemisphere";

export interface CsttoolCause {
  id: CsttoolCauseId;
  category: FailureCategory;
  /** csttool's line, trimmed, as printed. */
  line: string;
  /** For "hemisphere": the side that failed. */
  side: "left" | "right" | null;
}

interface Rule {
  id: CsttoolCauseId;
  category: FailureCategory;
  test: RegExp;
}

/** In order of precedence: the first rule with a matching line wins. */
const RULES: readonly Rule[] = [
  { id: "memory", category: "OUT_OF_MEMORY", test: /\bMemoryError\b|Unable to allocate \d/ },
  { id: "environment", category: "SYSTEM", test: /✗ (Environment check failed|User data dir: not writable|Cache dir: not writable)/ },
  { id: "atlas", category: "SYSTEM", test: /Harvard-Oxford \w+ atlas \(\d+mm\) not found|Checksum verification failed for HarvardOxford|Warping atlases failed: .*(not found|Checksum)/ },
  {
    id: "input",
    category: "INPUT_MISSING",
    test: /✗ Error loading NIfTI: |Compressed file ended before the end-of-stream marker|Not a gzipped file|CRC check failed|ImageFileError|Error -3 while decompressing/,
  },
  {
    id: "hemisphere",
    category: "PIPELINE_FAILED",
    test: /✗ (Failed to (analyze|load) (left|right) CST|(Left|Right) CST tractogram not found|Metrics failed: No CST tractograms available)/,
  },
];

/** extract's summary line for a side without streamlines. */
const ZERO_SIDE = /^\s*(Left|Right) CST:\s+0 streamlines\s*$/;

/** The environment line that says why csttool's check failed, when it printed one. */
const ENV_DETAIL = /✗ (User data dir|Cache dir): not writable/;

/** csttool's cause of a failure, from its output lines (the whole log of the attempt); null when none is recognised. */
export function findCsttoolCause(lines: readonly string[]): CsttoolCause | null {
  for (const rule of RULES) {
    let hit = lines.find((l) => rule.test.test(l));
    if (hit === undefined) continue;
    if (rule.id === "environment") hit = lines.find((l) => ENV_DETAIL.test(l)) ?? hit;
    if (rule.id !== "hemisphere") return { id: rule.id, category: rule.category, line: hit.trim(), side: null };
    // the side: named by the metrics line, else by extract's "<Side> CST: 0 streamlines"
    const zero = lines.find((l) => ZERO_SIDE.test(l));
    const named = /\b(left|right)\b/i.exec(hit)?.[1] ?? (zero ? ZERO_SIDE.exec(zero)?.[1] : undefined);
    const line = zero && !/\b(left|right)\b/i.test(hit) ? `${zero.trim()}; ${hit.trim()}` : hit.trim();
    return { id: rule.id, category: rule.category, line, side: named ? (named.toLowerCase() as "left" | "right") : null };
  }
  return null;
}

const q = shellQuote;

/** One sentence for the record's message, after csttool's own line. */
export function describeCsttoolCause(cause: CsttoolCause): string {
  switch (cause.id) {
    case "memory":
      return "csttool ran out of memory";
    case "environment":
      return "csttool's environment check failed (a study-wide problem, not this subject)";
    case "atlas":
      return "csttool's FSL atlas data is missing or corrupt (a study-wide problem, not this subject)";
    case "input":
      return "csttool could not read the input image (corrupt or truncated file)";
    case "hemisphere": {
      if (cause.side === null) return "csttool found no usable CST on one side, so its metrics step failed and csttool dropped the metrics of both sides";
      return `csttool found no usable ${cause.side} CST, so its metrics step failed and csttool dropped the metrics of both sides (the ${cause.side === "left" ? "right" : "left"} side's tract is in the kept files)`;
    }
  }
}

/** The next step for a recognised cause; null keeps the category's usual one. */
export function nextStepForCause(cause: CsttoolCause, study: StudyRef): string | null {
  switch (cause.id) {
    case "memory":
      return study.local
        ? `give csttool more memory by running fewer subjects at once: \`cst-batch resubmit --out ${q(study.out)} --category OUT_OF_MEMORY --mem-factor 2\` (each rerun counts 2 x --mem-per-subject; or --jobs 1)`
        : `request more memory: \`cst-batch resubmit --out ${q(study.out)} --category OUT_OF_MEMORY --mem-factor 1.5\` (or submit with a larger --mem)`;
    case "environment":
      return "run `csttool doctor` on a compute node (as the job's user) and fix what it reports (missing packages, unwritable ~/.local/share/csttool or ~/.cache/csttool; XDG_DATA_HOME / XDG_CACHE_HOME move them), then rerun the study";
    case "atlas":
      return "install csttool's atlas data: run `csttool fetch-data --accept-fsl-license` once (needs network) on a node that shares this home, then rerun the study";
    case "input":
      return null; // INPUT_MISSING's next step: restore the input, then rerun
    case "hemisphere":
      return `check the ${cause.side ?? "failing"} hemisphere of this subject (tracking/extraction QC figures, --fa-thr, --extraction-method, --dilate-motor / --dilate-brainstem), then rerun it`;
  }
}
