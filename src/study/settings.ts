import { statSync } from "node:fs";
import path from "node:path";
import { settingsPath, stateDir } from "../layout.js";
import {
  SETTINGS_SCHEMA_VERSION,
  StudySettingsFileSchema,
  type SettingValue,
  type SettingsChange,
  type StudySettingsFile,
  type StudySettingsValues,
} from "../schemas/settings.js";
import { writeJsonAtomicSync } from "../util/atomic-write.js";
import { mkdirConfined } from "../util/confined-fs.js";
import { readStateFileSync, requireState } from "../util/read-json.js";
import { settingsFromPlan } from "./settings-from-plan.js";

/**
 * The study's settings, given once: the first plan/submit into an --out records the flags it was
 * given in `<out>/.cst-batch/settings.json`; later commands on that --out start from them, and a
 * flag given again replaces its value (a change the command reports, old -> new). Only values a
 * user gave are recorded; an absent one is the built-in default. docs/study-settings.md.
 */

/** How a recorded value is normalised when given: paths become absolute (later commands may run elsewhere). */
export type SettingKind = "path" | "command" | "image" | "profile" | "string" | "list" | "number" | "bool";

export interface SettingSpec {
  /** The name in settings.json (snake_case); csttool options are `options.<key>`. */
  key: string;
  flag: string;
  kind: SettingKind;
}

/** Every study setting but the csttool options (those are `options.<key>`, one per OPTION_SPECS entry). */
export const STUDY_SETTINGS: readonly SettingSpec[] = [
  { key: "bids_dir", flag: "--bids-dir", kind: "path" },
  { key: "manifest", flag: "--manifest", kind: "path" },
  { key: "subject_pattern", flag: "--subject-pattern", kind: "string" },
  { key: "session_pattern", flag: "--session-pattern", kind: "string" },
  { key: "include", flag: "--include", kind: "list" },
  { key: "exclude", flag: "--exclude", kind: "list" },
  { key: "dwi_filter", flag: "--dwi-filter", kind: "string" },
  { key: "csttool", flag: "--csttool", kind: "command" },
  { key: "csttool_version", flag: "--csttool-version", kind: "string" },
  { key: "timeout_minutes", flag: "--timeout-minutes", kind: "number" },
  { key: "grace_seconds", flag: "--grace-seconds", kind: "number" },
  { key: "min_free_gb", flag: "--min-free-gb", kind: "number" },
  { key: "skip_disk_check", flag: "--skip-disk-check", kind: "bool" },
  { key: "skip_invalid", flag: "--skip-invalid", kind: "bool" },
  { key: "allow_missing_atlas", flag: "--allow-missing-atlas", kind: "bool" },
  { key: "mem_per_subject", flag: "--mem-per-subject", kind: "string" },
  { key: "canary", flag: "--canary", kind: "string" },
  { key: "scheduler", flag: "--scheduler", kind: "string" },
  { key: "jobs", flag: "--jobs", kind: "number" },
  { key: "profile", flag: "--profile", kind: "profile" },
  { key: "time", flag: "--time", kind: "string" },
  { key: "mem", flag: "--mem", kind: "string" },
  { key: "cpus", flag: "--cpus", kind: "string" },
  { key: "partition", flag: "--partition", kind: "string" },
  { key: "queue", flag: "--queue", kind: "string" },
  { key: "account", flag: "--account", kind: "string" },
  { key: "qos", flag: "--qos", kind: "string" },
  { key: "gres", flag: "--gres", kind: "string" },
  { key: "collect_time", flag: "--collect-time", kind: "string" },
  { key: "collect_mem", flag: "--collect-mem", kind: "string" },
  { key: "collect_cpus", flag: "--collect-cpus", kind: "string" },
  { key: "array_throttle", flag: "--array-throttle", kind: "string" },
  { key: "chunk_size", flag: "--chunk-size", kind: "string" },
  { key: "max_array_size", flag: "--max-array-size", kind: "string" },
  { key: "job_name", flag: "--job-name", kind: "string" },
  { key: "scheduler_arg", flag: "--scheduler-arg", kind: "list" },
  { key: "setup", flag: "--setup", kind: "list" },
  { key: "container", flag: "--container", kind: "image" },
  { key: "container_runtime", flag: "--container-runtime", kind: "string" },
  { key: "template_dir", flag: "--template-dir", kind: "path" },
];

/** Settings that replace each other: giving one drops the others (one source per study). */
const EXCLUSIVE: readonly (readonly string[])[] = [["bids_dir", "manifest"]];

/** A given value in its recorded form: paths absolute against `cwd`. */
export function normaliseSetting(spec: SettingSpec, raw: unknown, cwd: string): SettingValue {
  switch (spec.kind) {
    case "path":
      return path.resolve(cwd, String(raw));
    case "command":
      return String(raw).includes("/") ? path.resolve(cwd, String(raw)) : String(raw);
    case "image":
      return String(raw).includes("://") ? String(raw) : path.resolve(cwd, String(raw));
    case "profile":
      return raw === false ? false : path.resolve(cwd, String(raw));
    case "list":
      return (Array.isArray(raw) ? raw : [raw]).map(String);
    case "bool":
      return raw === true;
    case "number":
      return typeof raw === "number" ? raw : Number(String(raw).trim());
    default:
      return String(raw);
  }
}

function same(a: SettingValue | undefined, b: SettingValue | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The recorded settings with the given ones laid over, and what changed (old -> new) in setting order. */
export function mergeSettings(recorded: StudySettingsValues, given: StudySettingsValues): { settings: StudySettingsValues; changes: SettingsChange[] } {
  const settings: StudySettingsValues = { ...recorded };
  const changes: SettingsChange[] = [];
  for (const [key, value] of Object.entries(given)) {
    for (const group of EXCLUSIVE) {
      if (!group.includes(key)) continue;
      for (const other of group) {
        if (other === key || settings[other] === undefined) continue;
        changes.push({ setting: other, old: settings[other] ?? null, new: null });
        delete settings[other];
      }
    }
    if (!same(settings[key], value)) changes.push({ setting: key, old: settings[key] ?? null, new: value });
    settings[key] = value;
  }
  return { settings, changes };
}

/** The settings file of a study, or null when none was recorded yet; a damaged one is a CstError naming it. */
export function readStudySettings(out: string): StudySettingsFile | null {
  const file = settingsPath(out);
  if (!isFolder(stateDir(out))) return null; // no study yet (or --out is a file: preflight says so)
  const result = readStateFileSync(file, StudySettingsFileSchema);
  if (result.kind === "missing") return null;
  return requireState(result, file, "the study's settings", `fix or remove ${file} (then give every flag again; \`cst-batch config --out ${out}\` shows what is recorded)`);
}

function isFolder(dir: string): boolean {
  try {
    return statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false;
  }
}

/** What a study's settings become for one command: the merged values, the changes, whether any were recorded before. */
export interface ResolvedSettings {
  path: string;
  settings: StudySettingsValues;
  changes: SettingsChange[];
  /** False on the study's first command (the file does not exist yet). */
  recorded: boolean;
  /** The command, recorded in the file's history with the changes. */
  command: string;
  /** No settings file, but a current plan: its source and values were used (a study planned before settings were recorded). */
  fromPlan: boolean;
}

/** Lay the given settings over the recorded ones of `out` (reads only). */
export function resolveStudySettings(out: string, given: StudySettingsValues, command: string): ResolvedSettings {
  const file = readStudySettings(out);
  const fromPlan = file === null ? settingsFromPlan(out) : null;
  const merged = mergeSettings(file?.settings ?? fromPlan ?? {}, given);
  return { path: settingsPath(out), settings: merged.settings, changes: file === null ? [] : merged.changes, recorded: file !== null, command, fromPlan: fromPlan !== null };
}

/** Write the settings atomically (after a plan was written: never on a dry run or a failed preflight). */
export function writeStudySettings(out: string, resolved: ResolvedSettings, result: { csttool_executable: string; csttool_version: string; plan_id: string }, now: Date): void {
  const previous = readStudySettings(out);
  const at = now.toISOString();
  const history = [...(previous?.history ?? [])];
  if (previous !== null && resolved.changes.length > 0) history.push({ at, command: resolved.command, changes: resolved.changes });
  const file: StudySettingsFile = {
    schema_version: SETTINGS_SCHEMA_VERSION,
    kind: "cst-batch-settings",
    created_at: previous?.created_at ?? at,
    updated_at: previous !== null && resolved.changes.length === 0 ? previous.updated_at : at,
    settings: sortedSettings(resolved.settings),
    resolved: result,
    history,
  };
  mkdirConfined(out, stateDir(out));
  writeJsonAtomicSync(settingsPath(out), file, { root: out });
}

/** Settings in table order, then the csttool options by name: a stable, readable file. */
function sortedSettings(values: StudySettingsValues): StudySettingsValues {
  const out: StudySettingsValues = {};
  for (const spec of STUDY_SETTINGS) if (values[spec.key] !== undefined) out[spec.key] = values[spec.key]!;
  for (const key of Object.keys(values).sort()) if (out[key] === undefined) out[key] = values[key]!;
  return out;
}

/** A value for a message: `0.15`, `"sub-9*"`, `[a, b]`, `(default)` for none. */
export function showSetting(value: SettingValue | null | undefined): string {
  if (value === null || value === undefined) return "(default)";
  if (Array.isArray(value)) return `[${value.join(", ")}]`;
  return String(value);
}

/** `fa_thr 0.2 → 0.15`. */
export function formatChange(c: SettingsChange): string {
  return `${c.setting.replace(/^options\./, "")} ${showSetting(c.old)} → ${showSetting(c.new)}`;
}
