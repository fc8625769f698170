import { taskKey } from "../layout.js";
import { loadManifestSource } from "../plan/manifest.js";
import { resolveTaskOptions, showValue, validateCliOptions } from "../plan/options.js";
import type { CsttoolOptions } from "../schemas/options.js";
import type { Plan } from "../schemas/records.js";
import { readStudySettings } from "../study/settings.js";

/**
 * Fix-and-rerun for options: in a manifest study, the selected subjects' csttool options are
 * resolved again from the manifest as it is now (its `options`, the subject's own `options`) and
 * the study's recorded command-line options (`options.*` in .cst-batch/settings.json), in the
 * planner's precedence (command line > subject > manifest). A subject whose options differ from
 * its plan line is planned again with them (src/resubmit/replan-changed.ts). BIDS studies have no
 * per-subject options: their option changes go through `plan` (and `--rerun-changed`).
 */
export type ManifestOptionsView =
  | { kind: "none" }
  /** The manifest could not be read or checked now: options stay as planned, with this note. */
  | { kind: "unreadable"; note: string }
  | { kind: "read"; optionsOf: (subject: string, session: string | null) => { options: CsttoolOptions; problems: string[] } | null };

/**
 * The manifest read for `subjects` only (the others' inputs are not checked: a resubmit of three
 * subjects of a 10,000-subject study reads three subjects' files). Subject ids are BIDS labels, so
 * as include globs they match themselves.
 */
export async function readManifestOptions(out: string, plan: Pick<Plan, "source">, subjects: readonly string[]): Promise<ManifestOptionsView> {
  if (plan.source.type !== "manifest") return { kind: "none" };
  const manifest = await loadManifestSource(plan.source.manifest_path, { include: [...new Set(subjects)], exclude: [] });
  const fatal = manifest.problems.filter((p) => p.severity === "error" && !p.subject);
  if (fatal.length > 0) {
    return { kind: "unreadable", note: `${plan.source.manifest_path}: ${fatal.map((p) => p.message).join("; ")}: options are kept as planned` };
  }
  const recorded = readStudySettings(out)?.settings ?? {};
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(recorded)) if (k.startsWith("options.")) raw[k.slice("options.".length)] = v;
  const cli = validateCliOptions(raw).options;
  const entries = new Map(manifest.entries.map((e) => [taskKey(e.subject, e.session), e]));
  const errorsOf = new Map<string, string[]>();
  for (const p of manifest.problems) {
    if (p.severity !== "error" || !p.subject) continue;
    const k = taskKey(p.subject, p.session ?? null);
    errorsOf.set(k, [...(errorsOf.get(k) ?? []), `${p.message} (${p.fix})`]);
  }
  return {
    kind: "read",
    optionsOf: (subject, session) => {
      const key = taskKey(subject, session);
      const errors = errorsOf.get(key) ?? (session !== null ? errorsOf.get(taskKey(subject, null)) : undefined);
      if (errors) return { options: {}, problems: errors };
      const entry = entries.get(key);
      if (!entry) return null;
      const r = resolveTaskOptions({ manifest: manifest.options, subject: entry.options, cli }, entry);
      return { options: r.options, problems: r.problems.map((p) => `${p.message} (${p.fix})`) };
    },
  };
}

/** `fa_thr 0.2 → 0.15, seed_density (unset) → 2`: the keys whose values differ. */
export function describeOptionChanges(before: CsttoolOptions, after: CsttoolOptions): string {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const shown = (v: unknown): string => (v === undefined ? "(unset)" : showValue(v));
  return keys
    .filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]))
    .map((k) => `${k} ${shown(b[k])} → ${shown(a[k])}`)
    .join(", ");
}
