import { CsttoolOptionsSchema, OPTION_SPECS, mergeOptions, type CsttoolOptions } from "../schemas/options.js";
import { problem, type Problem } from "./problems.js";

/**
 * Option layers. Precedence, highest first: command-line flag > subject `options` > manifest
 * `options` > defaults. Each layer is validated alone (so an error names where it came from),
 * then the merged result is validated again for the cross-field rules.
 */
export const DEFAULT_OPTIONS: CsttoolOptions = {};

const FLAG_OF = new Map(OPTION_SPECS.map((s) => [s.key, s.cliFlag ?? s.flag]));

/** A value for a message: as typed when known, else as JSON (a non-finite number by name, not `null`). */
export function showValue(value: unknown, typed?: string): string {
  if (typed !== undefined) return typed;
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * Validate the command-line layer; problems name the flag (`--fa-thr`), not the key, and quote
 * the value as typed (`texts`).
 */
export function validateCliOptions(raw: Record<string, unknown> | undefined, texts: Record<string, string> = {}): { options: CsttoolOptions; problems: Problem[] } {
  const layer: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw ?? {})) if (v !== undefined) layer[k] = v;
  const r = CsttoolOptionsSchema.safeParse(layer);
  if (r.success) return { options: r.data as CsttoolOptions, problems: [] };
  const problems = r.error.issues.map((issue) => {
    const key = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : String(issue.path[0] ?? "");
    const flag = FLAG_OF.get(key) ?? key;
    const value = layer[key];
    // Plain words: "--fa-thr must be between 0 and 1, got 2" (a message that quotes the value already keeps it).
    const typed = value !== undefined ? showValue(value, texts[key]) : null;
    const message =
      typed !== null && issue.message.startsWith("must ")
        ? `${flag} ${issue.message}${issue.message.includes(", got ") ? "" : `, got ${typed}`}`
        : `${flag}${typed !== null ? ` ${typed}` : ""}: ${issue.message}`;
    return problem("error", "options", message, `fix ${flag} (see \`cst-batch plan --help\`)`);
  });
  // Keep the keys that were fine, so conflicts with the other layers are still reported.
  const bad = new Set(r.error.issues.flatMap((i) => (i.code === "unrecognized_keys" ? i.keys : [String(i.path[0] ?? "")])));
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(layer)) if (!bad.has(k)) kept[k] = v;
  const again = CsttoolOptionsSchema.safeParse(kept);
  return { options: again.success ? (again.data as CsttoolOptions) : {}, problems };
}

/** Merge the layers of one task and check the cross-field rules on the result. */
export function resolveTaskOptions(
  layers: { manifest: CsttoolOptions; subject: CsttoolOptions; cli: CsttoolOptions },
  where: { subject: string; session: string | null },
  cache?: Map<string, boolean>,
): { options: CsttoolOptions; problems: Problem[] } {
  const merged = mergeLayers(layers);
  // Most tasks share the same merged options: validate each distinct set once.
  const key = cache ? JSON.stringify(merged) : "";
  if (cache?.get(key) === true) return { options: merged, problems: [] };
  const r = CsttoolOptionsSchema.safeParse(merged);
  cache?.set(key, r.success);
  if (r.success) return { options: merged, problems: [] };
  return {
    options: merged,
    problems: r.error.issues.map((issue) =>
      problem(
        "error",
        "options",
        `merged options ${issue.path.join(".") || "(all)"}: ${issue.message}`,
        "options come from the command line, then the subject's \"options\", then the manifest's \"options\"; fix the layer that sets the conflicting value",
        where,
      ),
    ),
  };
}

/** The layers merged in precedence order (later wins). */
export function mergeLayers(layers: { manifest: CsttoolOptions; subject?: CsttoolOptions; cli: CsttoolOptions }): CsttoolOptions {
  return mergeOptions(DEFAULT_OPTIONS, layers.manifest, layers.subject, layers.cli);
}
