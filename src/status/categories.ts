import { CstError } from "../errors.js";
import { FAILURE_CATEGORIES, type FailureCategory } from "../schemas/records.js";

/** Short names users may type for a category (the core's names are accepted as they are). */
const ALIASES: Record<string, FailureCategory> = {
  INPUT: "INPUT_MISSING",
  OOM: "OUT_OF_MEMORY",
  WALLTIME: "TIMEOUT",
  PIPELINE: "PIPELINE_FAILED",
  NODE_FAILURE: "NODE_FAIL",
};

/** Parse `TIMEOUT,OUT_OF_MEMORY` (case-insensitive; aliases INPUT, OOM, ...) into categories. */
export function parseCategoryList(text: string, flag = "--category"): FailureCategory[] {
  const out = new Set<FailureCategory>();
  for (const raw of text.split(",")) {
    const word = raw.trim().toUpperCase().replace(/-/g, "_");
    if (word === "") continue;
    const cat = (FAILURE_CATEGORIES as readonly string[]).includes(word) ? (word as FailureCategory) : ALIASES[word];
    if (!cat) {
      throw new CstError("USAGE", `${flag}: unknown failure category ${JSON.stringify(raw.trim())}`, {
        hint: `use one or more of ${FAILURE_CATEGORIES.join(", ")} (INPUT is short for INPUT_MISSING), separated by commas`,
      });
    }
    out.add(cat);
  }
  if (out.size === 0) throw new CstError("USAGE", `${flag} is empty`, { hint: `give e.g. ${flag} TIMEOUT,OUT_OF_MEMORY` });
  return [...out];
}
