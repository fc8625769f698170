import * as z from "./zod.js";

/**
 * csttool's per-subject flags (see the csttool contract note). One table drives the zod schema,
 * the argv builder and the command-line flags of `plan` / `submit`, so they cannot drift.
 */
export type OptionKind = "bool" | "int" | "number" | "enum" | "voxel";

export interface OptionSpec {
  key: string;
  flag: string;
  kind: OptionKind;
  description: string;
  /** csttool's own default, for documentation; cst-batch passes only what was set. */
  csttoolDefault?: string;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** Name of cst-batch's own command-line flag when it differs from csttool's. */
  cliFlag?: string;
}

/** `mppca` is in the contract note but not in csttool 0.5.0 (preflight checks the real choices via `run --help`). */
export const DENOISE_METHODS = ["mppca", "patch2self", "nlmeans"] as const;
export const EXTRACTION_METHODS = ["passthrough", "endpoint", "roi-seeded", "bidirectional"] as const;

export const OPTION_SPECS: readonly OptionSpec[] = [
  { key: "preprocessing", flag: "--preprocess", kind: "bool", description: "run csttool's preprocessing", csttoolDefault: "false" },
  { key: "denoise_method", flag: "--denoise-method", kind: "enum", values: DENOISE_METHODS, description: "denoising method (csttool 0.5.0: patch2self or nlmeans)", csttoolDefault: "patch2self" },
  { key: "unring", flag: "--unring", kind: "bool", description: "Gibbs unringing", csttoolDefault: "false" },
  { key: "perform_motion_correction", flag: "--perform-motion-correction", kind: "bool", description: "motion correction", csttoolDefault: "false" },
  { key: "target_voxel_size", flag: "--target-voxel-size", kind: "voxel", description: "reslice to X Y Z mm", min: 0.1, max: 10 },
  { key: "coil_count", flag: "--coil-count", kind: "int", min: 1, max: 128, description: "receiver coils (nlmeans only)", csttoolDefault: "4" },
  { key: "fa_thr", flag: "--fa-thr", kind: "number", min: 0, max: 1, description: "FA threshold for tracking", csttoolDefault: "0.2" },
  { key: "seed_density", flag: "--seed-density", kind: "int", min: 1, max: 100, description: "seeds per voxel", csttoolDefault: "1" },
  { key: "step_size", flag: "--step-size", kind: "number", min: 0.01, max: 10, description: "tracking step size (mm)", csttoolDefault: "0.5" },
  { key: "sh_order", flag: "--sh-order", kind: "int", min: 2, max: 16, description: "spherical harmonics order (even)", csttoolDefault: "6" },
  { key: "extraction_method", flag: "--extraction-method", kind: "enum", values: EXTRACTION_METHODS, description: "CST extraction method", csttoolDefault: "passthrough" },
  { key: "dilate_brainstem", flag: "--dilate-brainstem", kind: "int", min: 0, max: 20, description: "brainstem ROI dilation (voxels)", csttoolDefault: "2" },
  { key: "dilate_motor", flag: "--dilate-motor", kind: "int", min: 0, max: 20, description: "motor ROI dilation (voxels)", csttoolDefault: "1" },
  { key: "min_length", flag: "--min-length", kind: "number", min: 0, max: 1000, description: "minimum streamline length (mm)", csttoolDefault: "20" },
  { key: "max_length", flag: "--max-length", kind: "number", min: 1, max: 1000, description: "maximum streamline length (mm)", csttoolDefault: "200" },
  { key: "generate_pdf", flag: "--generate-pdf", kind: "bool", description: "write the PDF report", csttoolDefault: "false" },
  { key: "save_visualizations", flag: "--save-visualizations", kind: "bool", description: "write QC figures", csttoolDefault: "false" },
  { key: "field_strength", flag: "--field-strength", kind: "number", min: 0.1, max: 21, description: "scanner field strength (T)" },
  { key: "echo_time", flag: "--echo-time", kind: "number", min: 0.1, max: 1000, description: "echo time (ms)" },
  { key: "skip_check", flag: "--skip-check", kind: "bool", description: "skip csttool's environment check", csttoolDefault: "false" },
  { key: "verbose", flag: "--verbose", kind: "bool", cliFlag: "--csttool-verbose", description: "csttool verbose output", csttoolDefault: "false" },
  { key: "quiet", flag: "--quiet", kind: "bool", cliFlag: "--csttool-quiet", description: "csttool quiet output", csttoolDefault: "false" },
];

export const OPTION_KEYS: readonly string[] = OPTION_SPECS.map((s) => s.key);

/** What an option takes, in plain words: "between 0 and 1", "a whole number between 1 and 100", "one of: a, b". */
export function expectedValue(spec: OptionSpec): string {
  const both = spec.min !== undefined && spec.max !== undefined;
  const range = both ? ` between ${spec.min} and ${spec.max}` : spec.min !== undefined ? ` >= ${spec.min}` : spec.max !== undefined ? ` <= ${spec.max}` : "";
  switch (spec.kind) {
    case "bool":
      return "true or false";
    case "enum":
      return `one of: ${(spec.values ?? []).join(", ")}`;
    case "int":
      return `a whole number${range}`;
    case "number":
      return both ? range.trim() : `a number${range}`;
    case "voxel":
      return `three numbers (X Y Z mm), each${range}`;
  }
}

/** A number within the spec's range (and whole, for `int`). */
function inRange(spec: OptionSpec, whole: boolean): (n: number) => boolean {
  const min = spec.min ?? -Infinity;
  const max = spec.max ?? Infinity;
  return (n) => n >= min && n <= max && (!whole || Number.isSafeInteger(n));
}

/**
 * One schema per option, every failure saying what the option takes in plain words (a type
 * error and a range error read the same: "must be between 0 and 1"). Whole numbers and
 * ranges are one plain refinement, not z.int()/z.minimum(): z.int() aborts the object's parse,
 * which would hide the cross-field rules below (a wrong type must not hide another problem).
 */
function schemaFor(spec: OptionSpec): z.ZodMiniType {
  const error = `must be ${expectedValue(spec)}`;
  switch (spec.kind) {
    case "bool":
      return z.boolean({ error });
    case "enum":
      return z.enum(spec.values as [string, ...string[]], { error });
    case "int":
      return z.number({ error }).check(z.refine(inRange(spec, true), { error }));
    case "number":
      return z.number({ error }).check(z.refine(inRange(spec, false), { error }));
    case "voxel": {
      const mm = z.number({ error }).check(z.refine(inRange(spec, false), { error }));
      return z.tuple([mm, mm, mm], { error });
    }
  }
}

const shape: Record<string, z.ZodMiniType> = {};
for (const spec of OPTION_SPECS) shape[spec.key] = z.optional(schemaFor(spec));

/** Options as they appear in a manifest, a profile or on the command line (all optional). */
export const CsttoolOptionsSchema = z.strictObject(shape).check(
  z.superRefine((o, ctx) => {
    const v = o as Record<string, unknown>;
    if (typeof v.sh_order === "number" && v.sh_order % 2 !== 0) {
      ctx.addIssue({ code: "custom", path: ["sh_order"], message: `must be even, got ${v.sh_order}` });
    }
    if (typeof v.min_length === "number" && typeof v.max_length === "number" && v.min_length >= v.max_length) {
      ctx.addIssue({
        code: "custom",
        path: ["min_length"],
        message: `min_length (${v.min_length}) must be smaller than max_length (${v.max_length})`,
      });
    }
    if (v.coil_count !== undefined && v.denoise_method !== undefined && v.denoise_method !== "nlmeans") {
      ctx.addIssue({
        code: "custom",
        path: ["coil_count"],
        message: `coil_count only applies to denoise_method "nlmeans", not "${String(v.denoise_method)}"`,
      });
    }
    if (v.verbose === true && v.quiet === true) {
      ctx.addIssue({ code: "custom", path: ["quiet"], message: "verbose and quiet cannot both be true" });
    }
  }, {
    // Also when another option has the wrong type: every problem of a layer is reported at once.
    when: (payload) => typeof payload.value === "object" && payload.value !== null && !Array.isArray(payload.value),
  }),
);

export type CsttoolOptions = Partial<{
  preprocessing: boolean;
  denoise_method: (typeof DENOISE_METHODS)[number];
  unring: boolean;
  perform_motion_correction: boolean;
  target_voxel_size: [number, number, number];
  coil_count: number;
  fa_thr: number;
  seed_density: number;
  step_size: number;
  sh_order: number;
  extraction_method: (typeof EXTRACTION_METHODS)[number];
  dilate_brainstem: number;
  dilate_motor: number;
  min_length: number;
  max_length: number;
  generate_pdf: boolean;
  save_visualizations: boolean;
  field_strength: number;
  echo_time: number;
  skip_check: boolean;
  verbose: boolean;
  quiet: boolean;
}>;

/** csttool flags for resolved options, in table order; false booleans are omitted. */
export function optionsToFlags(options: CsttoolOptions): string[] {
  const out: string[] = [];
  const o = options as Record<string, unknown>;
  for (const spec of OPTION_SPECS) {
    const value = o[spec.key];
    if (value === undefined || value === null) continue;
    if (spec.kind === "bool") {
      if (value === true) out.push(spec.flag);
    } else if (spec.kind === "voxel") {
      out.push(spec.flag, ...(value as number[]).map((n) => String(n)));
    } else {
      out.push(spec.flag, String(value));
    }
  }
  return out;
}

/** Merge option layers; later layers win, key by key. */
export function mergeOptions(...layers: (CsttoolOptions | undefined)[]): CsttoolOptions {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  }
  const sorted: Record<string, unknown> = {};
  for (const key of OPTION_KEYS) if (key in merged) sorted[key] = merged[key];
  return sorted as CsttoolOptions;
}
