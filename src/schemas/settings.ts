import * as z from "./zod.js";

/**
 * The study's settings (`<out>/.cst-batch/settings.json`, src/study/settings.ts): what the user
 * gave on the command line of the study's plan/submit commands, accumulated (a later flag
 * replaces its value), so later commands on the same --out need not repeat them. Only given
 * values are recorded; a missing key means the built-in default. Documented in docs/study-settings.md.
 */
export const SETTINGS_SCHEMA_VERSION = 1;

const value = z.union([z.string(), z.number(), z.boolean(), z.array(z.string()), z.array(z.number())]);

export const StudySettingsValuesSchema = z.record(z.string(), value);

export const SettingsChangeSchema = z.object({
  setting: z.string(),
  old: z.nullable(value),
  new: z.nullable(value),
});

export const StudySettingsFileSchema = z.object({
  schema_version: z.literal(SETTINGS_SCHEMA_VERSION),
  kind: z.literal("cst-batch-settings"),
  created_at: z.string(),
  updated_at: z.string(),
  /** Setting name (snake_case, `options.<key>` for csttool options) -> value as given. */
  settings: StudySettingsValuesSchema,
  /** What the last plan resolved the csttool setting to (informational; not an input). */
  resolved: z.optional(z.object({ csttool_executable: z.string(), csttool_version: z.string(), plan_id: z.string() })),
  /** Every change made after the first command, newest last. */
  history: z.array(z.object({ at: z.string(), command: z.string(), changes: z.array(SettingsChangeSchema) })),
});

export type SettingValue = z.infer<typeof value>;
export type StudySettingsValues = z.infer<typeof StudySettingsValuesSchema>;
export type SettingsChange = z.infer<typeof SettingsChangeSchema>;
export type StudySettingsFile = z.infer<typeof StudySettingsFileSchema>;
