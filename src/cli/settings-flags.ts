import path from "node:path";
import { Option, type Command } from "commander";
import { OPTION_SPECS } from "../schemas/options.js";
import type { StudySettingsValues } from "../schemas/settings.js";
import { formatArgv, shellQuote } from "../shell/shell-quote.js";
import { STUDY_SETTINGS, formatChange, normaliseSetting, resolveStudySettings, type ResolvedSettings } from "../study/settings.js";
import { cliFlagOf, optionLayerFromFlags } from "./plan-flags.js";
import { out } from "./output.js";

/**
 * The bridge between the command line and the study's settings (src/study/settings.ts): which
 * settings this command was given (flags typed, not defaults), and the recorded ones put back
 * into commander's values as if typed, so `plan` and `submit` parse one set of values.
 */

function attributeName(flag: string): string {
  return new Option(flag).attributeName();
}

/** The settings typed on this command line (normalised: paths absolute). */
export function givenSettings(cmd: Command, opts: Record<string, unknown>, cwd: string): StudySettingsValues {
  const given: StudySettingsValues = {};
  for (const spec of STUDY_SETTINGS) {
    const attr = attributeName(spec.flag);
    if (cmd.getOptionValueSource(attr) !== "cli" || opts[attr] === undefined) continue;
    given[spec.key] = normaliseSetting(spec, opts[attr], cwd);
  }
  // csttool option flags have no defaults: a value is a typed flag.
  for (const [key, value] of Object.entries(optionLayerFromFlags(opts))) {
    given[`options.${key}`] = value as StudySettingsValues[string];
  }
  return given;
}

/** `opts` with every recorded setting that was not typed put in as if typed. */
export function withRecordedSettings(cmd: Command, opts: Record<string, unknown>, settings: StudySettingsValues): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...opts };
  const known = new Set(cmd.options.map((o) => o.attributeName()));
  for (const spec of STUDY_SETTINGS) {
    const attr = attributeName(spec.flag);
    const value = settings[spec.key];
    if (value === undefined || !known.has(attr) || cmd.getOptionValueSource(attr) === "cli") continue;
    merged[attr] = spec.kind === "number" ? String(value) : value;
  }
  // One source per study: a recorded --manifest yields to a typed --bids-dir (and back).
  if (cmd.getOptionValueSource("bidsDir") === "cli") delete merged.manifest;
  if (cmd.getOptionValueSource("manifest") === "cli") delete merged.bidsDir;
  for (const spec of OPTION_SPECS) {
    const value = settings[`options.${spec.key}`];
    const attr = attributeName(cliFlagOf(spec));
    if (value === undefined || merged[attr] !== undefined) continue;
    merged[attr] = Array.isArray(value) ? value.map(String) : typeof value === "boolean" ? value : String(value);
  }
  return merged;
}

/** The command line as typed, for the settings' history. */
export function typedCommand(): string {
  return formatArgv(["cst-batch", ...process.argv.slice(2)]);
}

/**
 * The values `plan`/`submit` run with: the typed flags over the study's recorded settings, and
 * those settings (for the plan to write). No --out: the flags as typed (the usage error follows).
 */
export function studySettingsFor(cmd: Command, opts: Record<string, unknown>): { opts: Record<string, unknown>; settings: ResolvedSettings | null } {
  if (typeof opts.out !== "string" || opts.out === "") return { opts, settings: null };
  const cwd = process.cwd();
  const settings = resolveStudySettings(normaliseOut(opts.out, cwd), givenSettings(cmd, opts, cwd), typedCommand());
  return { opts: withRecordedSettings(cmd, opts, settings.settings), settings };
}

function normaliseOut(dir: string, cwd: string): string {
  return normaliseSetting({ key: "out", flag: "--out", kind: "path" }, dir, cwd) as string;
}

/** What `--json` outputs carry about the settings. */
export function settingsJson(settings: ResolvedSettings | null, written: boolean): unknown {
  if (settings === null) return null;
  return { path: settings.path, written, first: !settings.recorded, from_plan: settings.fromPlan, values: settings.settings, changes: settings.changes };
}

/** The human lines: each change old → new, and where the settings are (stderr). */
export function reportSettings(settings: ResolvedSettings | null, written: boolean): void {
  if (settings === null) return;
  const tail = written ? "" : " (dry run: not recorded)";
  for (const c of settings.changes) out.info(`setting changed: ${formatChange(c)}${tail}`);
  const study = path.dirname(path.dirname(settings.path));
  if (settings.fromPlan) out.info(`no settings recorded in ${settings.path} (a study planned before they were): using its current plan's source, csttool, timeouts, exclusions and options`);
  if (!settings.recorded && written) out.info(`settings recorded in ${settings.path}: later commands on this --out use them (\`cst-batch config --out ${shellQuote(study)}\` shows them)`);
  else if (settings.recorded && settings.changes.length === 0 && written) out.info(`settings: as recorded in ${settings.path}`);
}
