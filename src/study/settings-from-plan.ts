import fs from "node:fs";
import { currentPlanPath } from "../layout.js";
import { PlanHeaderSchema } from "../schemas/plan.js";
import type { SettingValue, StudySettingsValues } from "../schemas/settings.js";
import type { PlanHeader } from "../schemas/plan.js";

/**
 * A study planned before settings were recorded (no `.cst-batch/settings.json`): its current
 * plan still says what it was planned from, so every command on `--out` alone works for it. The
 * values a plan header keeps: the source (BIDS folder or manifest), the csttool command, the
 * timeouts, `--skip-invalid` (when it has invalid subjects), the excluded subjects (as exclude
 * globs that match themselves) and, for a BIDS study, the csttool options (a manifest study's
 * options come from its manifest, which the plan merges: they are not split back here).
 */

const CHUNK = 64 * 1024;
/** A header line longer than this is not looked for (it would list ~100,000 skipped subjects). */
const MAX_HEADER = 64 * 1024 * 1024;

/** The first line of the current plan (schema 2), or null. */
function readHeaderLine(file: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return null;
  }
  try {
    const chunks: Buffer[] = [];
    for (let read = 0; read < MAX_HEADER; ) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const n = fs.readSync(fd, buf, 0, CHUNK, read);
      if (n === 0) return null;
      const nl = buf.subarray(0, n).indexOf(0x0a);
      if (nl >= 0) return Buffer.concat([...chunks, buf.subarray(0, nl)]).toString("utf8");
      chunks.push(buf.subarray(0, n));
      read += n;
    }
    return null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function settingValue(v: unknown): SettingValue | undefined {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  if (Array.isArray(v) && v.every((x) => typeof x === "number")) return v as number[];
  return undefined;
}

/** The settings the study's current plan implies, or null when it has none readable (then there is no study yet). */
export function settingsFromPlan(out: string): StudySettingsValues | null {
  const line = readHeaderLine(currentPlanPath(out));
  if (line === null) return null;
  let header: PlanHeader;
  try {
    const parsed = PlanHeaderSchema.safeParse(JSON.parse(line));
    if (!parsed.success) return null;
    header = parsed.data;
  } catch {
    return null;
  }
  const s: StudySettingsValues = {};
  if (header.source.type === "bids") s.bids_dir = header.source.bids_dir;
  else s.manifest = header.source.manifest_path;
  if (header.excluded !== undefined && header.excluded.length > 0) s.exclude = [...header.excluded];
  s.csttool = header.csttool.executable;
  s.timeout_minutes = header.run.timeout_minutes;
  s.grace_seconds = header.run.grace_seconds;
  if (header.invalid !== undefined && header.invalid.length > 0) s.skip_invalid = true;
  if (header.source.type === "bids") {
    for (const [k, v] of Object.entries(header.options as Record<string, unknown>)) {
      const value = settingValue(v);
      if (value !== undefined) s[`options.${k}`] = value;
    }
  }
  return s;
}
