import fs from "node:fs";
import path from "node:path";
import { OUTPUT_FILES } from "../layout.js";

/**
 * collect overwrites its BIDS-named study files only when cst-batch wrote them: a
 * `participants.tsv` or `dataset_description.json` of the user's own (a project folder given as
 * `--out`) stays. (`batch_summary.json`, `batch_metrics.csv` and `batch_report.html` are
 * cst-batch's by their names, as the README says: a damaged one is simply rewritten.) Told apart
 * by content, so studies of older versions keep being collected: `dataset_description.json`
 * names cst-batch in `GeneratedBy`; `participants.tsv`, which has no such mark, counts as
 * cst-batch's when it has exactly the shape collect writes and `dataset_description.json`
 * beside it is cst-batch's.
 */

const HEAD_BYTES = 4096;

function head(file: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Missing: nothing to keep. A link: replaced by the atomic rename, never followed.
    return code === "ENOENT" || code === "ELOOP" ? null : "";
  }
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = fs.readSync(fd, buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, n).toString("utf8");
  } catch {
    return "";
  } finally {
    fs.closeSync(fd);
  }
}

function wholeJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
  } catch {
    return null;
  }
}

function describedByCstBatch(file: string): boolean {
  const doc = wholeJson(file) as { GeneratedBy?: unknown } | null;
  return Array.isArray(doc?.GeneratedBy) && doc.GeneratedBy.some((g) => (g as { Name?: unknown } | null)?.Name === "cst-batch");
}

const PARTICIPANTS_HEADERS = new Set(["participant_id", "participant_id\tn_sessions"]);
const PARTICIPANT_ROW = /^sub-[A-Za-z0-9]+(\t\d+)?$/;

/** The BIDS-named study files in `outDir` that exist and were not written by cst-batch (absolute paths). */
export function foreignOutputs(outDir: string): Set<string> {
  const foreign = new Set<string>();
  const at = (name: string) => path.join(outDir, name);
  const check = (name: string, ours: (text: string, file: string) => boolean): void => {
    const text = head(at(name));
    if (text !== null && !ours(text, at(name))) foreign.add(at(name));
  };
  check(OUTPUT_FILES.datasetDescription, (_t, f) => describedByCstBatch(f));
  check(OUTPUT_FILES.participants, (_t, f) => {
    if (foreign.has(at(OUTPUT_FILES.datasetDescription)) || head(at(OUTPUT_FILES.datasetDescription)) === null) return false;
    let lines: string[];
    try {
      lines = fs.readFileSync(f, "utf8").split("\n");
    } catch {
      return false;
    }
    if (lines.at(-1) === "") lines.pop();
    return PARTICIPANTS_HEADERS.has(lines[0] ?? "") && lines.slice(1).every((l) => PARTICIPANT_ROW.test(l));
  });
  return foreign;
}

/** The problem line for a study-level file collect leaves alone. */
export function foreignOutputProblem(file: string): string {
  return `${file} was not written by cst-batch (or was changed since): left as it is; move it out of the output folder and run collect again to have cst-batch write it`;
}
