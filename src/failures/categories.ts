import { CstError } from "../errors.js";
import { CATALOGUE, FAILURE_CATEGORIES, FAILURE_ENTRIES, type FailureCategory } from "./catalogue.js";

/** Every name a user may type for a category, upper case: the category itself and its aliases. */
const BY_NAME: ReadonlyMap<string, FailureCategory> = new Map(
  FAILURE_ENTRIES.flatMap((e) => [[e.category, e.category] as const, ...e.aliases.map((a) => [a, e.category] as const)]),
);

/** One category from a name a user typed (case-insensitive, `-` for `_`, aliases such as OOM); null when unknown. */
export function categoryNamed(name: string): FailureCategory | null {
  return BY_NAME.get(name.trim().toUpperCase().replace(/-/g, "_")) ?? null;
}

/** `INPUT = INPUT_MISSING, OOM = OUT_OF_MEMORY, ...` for hints and help texts. */
export function describeAliases(): string {
  return FAILURE_CATEGORIES.flatMap((c) => CATALOGUE[c].aliases.map((a) => `${a} = ${c}`)).join(", ");
}

/** Parse `TIMEOUT,OUT_OF_MEMORY` (case-insensitive; aliases INPUT, OOM, ...) into categories. */
export function parseCategoryList(text: string, flag = "--category"): FailureCategory[] {
  const out = new Set<FailureCategory>();
  for (const raw of text.split(",")) {
    if (raw.trim() === "") continue;
    const cat = categoryNamed(raw);
    if (!cat) {
      throw new CstError("USAGE", `${flag}: unknown failure category ${JSON.stringify(raw.trim())}`, {
        hint: `use one or more of ${FAILURE_CATEGORIES.join(", ")} (or ${describeAliases()}), separated by commas`,
      });
    }
    out.add(cat);
  }
  if (out.size === 0) throw new CstError("USAGE", `${flag} is empty`, { hint: `give e.g. ${flag} TIMEOUT,OUT_OF_MEMORY` });
  return [...out];
}
