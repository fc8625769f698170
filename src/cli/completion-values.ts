import { Option } from "commander";
import { FAILURE_CATEGORIES, FAILURE_ENTRIES } from "../failures/catalogue.js";
import { SCHEDULER_NAMES } from "../schedulers/types.js";

/**
 * Values shell completion offers after a flag whose value is checked by cst-batch itself (a
 * comma list, an alias, a message better than commander's `choices`), from the modules that
 * define them: scheduler names, failure categories (and their aliases), container runtimes.
 */
const VALUES = new WeakMap<Option, readonly string[]>();

/** `option`, with `values` offered by completion (not enforced by commander). */
export function withCompletion(option: Option, values: readonly string[]): Option {
  VALUES.set(option, values);
  return option;
}

export function completionValuesOf(option: Option): readonly string[] | undefined {
  return option.argChoices ?? VALUES.get(option);
}

/** `submit --scheduler`. */
export const SUBMIT_SCHEDULERS: readonly string[] = ["auto", ...SCHEDULER_NAMES, "local"];
/** `resubmit --scheduler`. */
export const RERUN_SCHEDULERS: readonly string[] = [...SCHEDULER_NAMES, "local"];
/** `--category` (status, resubmit): the catalogue's names and aliases. */
export const CATEGORY_VALUES: readonly string[] = [...FAILURE_CATEGORIES, ...FAILURE_ENTRIES.flatMap((e) => e.aliases)];
/** `--container-runtime`. */
export const CONTAINER_RUNTIMES: readonly string[] = ["apptainer", "singularity"];

/** A `--flag <value>` option with completion values. */
export function choiceOption(flags: string, description: string, values: readonly string[]): Option {
  return withCompletion(new Option(flags, description), values);
}
