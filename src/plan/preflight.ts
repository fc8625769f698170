import { constants, promises as fsp } from "node:fs";
import path from "node:path";
import { errnoCode } from "../errors.js";
import { OPTION_SPECS, type CsttoolOptions, type OptionSpec } from "../schemas/options.js";
import type { CsttoolCapabilities } from "../schemas/records.js";
import { problem, type Problem } from "./problems.js";

/**
 * Checks that do not depend on a single subject: the output folder (writable, enough free disk
 * for the tasks still to run), the options against what this
 * csttool offers, csttool's atlas data.
 */

/** The output folder itself if it exists, else its nearest existing ancestor. */
export async function nearestExisting(dir: string): Promise<string> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      await fsp.stat(current);
      return current;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

/** The output folder can be written (its overlap with the inputs is checked in overlap.ts). */
export async function checkOutputDir(out: string): Promise<{ problems: Problem[]; existing: string }> {
  const problems: Problem[] = [];
  const abs = path.resolve(out);
  const existing = await nearestExisting(abs);
  try {
    const st = await fsp.stat(existing);
    if (!st.isDirectory()) {
      problems.push(problem("error", "output", `--out ${abs}: ${existing} is a file, not a folder`, "choose another --out folder"));
      return { problems, existing };
    }
    await fsp.access(existing, constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = errnoCode(e);
    problems.push(
      problem(
        "error",
        "output",
        `--out ${abs} is not writable (${existing === abs ? "" : `nearest existing folder ${existing}: `}${code ?? (e as Error).message})`,
        "choose a folder you can write to, or fix its permissions",
      ),
    );
  }
  return { problems, existing };
}

/** Disk estimate per pending task: 4x its input size + 300 MB (csttool's work files and results). */
export const DISK_PER_TASK_BYTES = 300 * 1024 * 1024;
export const DISK_INPUT_FACTOR = 4;

export interface DiskCheck {
  checked: boolean;
  free_bytes: number | null;
  required_bytes: number;
  /** "estimate" or "min-free-gb" */
  basis: "estimate" | "min-free-gb" | "skipped";
}

export function estimateBytes(inputSizes: readonly number[]): number {
  let total = 0;
  for (const s of inputSizes) total += DISK_INPUT_FACTOR * s + DISK_PER_TASK_BYTES;
  return total;
}

/**
 * Free space on the file system holding `dir` against the estimate for the pending tasks, or
 * against `--min-free-gb` when given; `skip` turns the check off.
 */
export async function checkFreeSpace(
  dir: string,
  pendingInputSizes: readonly number[],
  opts: { minFreeGb: number | null; skip: boolean },
): Promise<{ problems: Problem[]; disk: DiskCheck }> {
  const estimate = estimateBytes(pendingInputSizes);
  if (opts.skip) return { problems: [], disk: { checked: false, free_bytes: null, required_bytes: estimate, basis: "skipped" } };
  const required = opts.minFreeGb !== null ? Math.round(opts.minFreeGb * 1024 ** 3) : estimate;
  const basis = opts.minFreeGb !== null ? "min-free-gb" : "estimate";
  let free: number;
  try {
    const s = await fsp.statfs(dir);
    free = Number(s.bavail) * Number(s.bsize);
  } catch (e) {
    return {
      problems: [problem("warning", "disk", `cannot read the free space of ${dir} (${errnoCode(e) ?? (e as Error).message})`, "check the space yourself; --skip-disk-check silences this")],
      disk: { checked: false, free_bytes: null, required_bytes: required, basis },
    };
  }
  const disk: DiskCheck = { checked: true, free_bytes: free, required_bytes: required, basis };
  if (free >= required) return { problems: [], disk };
  const gb = (n: number): string => `${(n / 1024 ** 3).toFixed(1)} GB`;
  return {
    problems: [
      problem(
        "error",
        "disk",
        `not enough free disk in ${dir}: ${gb(free)} free, ${gb(required)} needed (${basis === "estimate" ? `estimate for ${pendingInputSizes.length} pending task(s): ${DISK_INPUT_FACTOR}x input size + 300 MB each` : "--min-free-gb"})`,
        "free some space, choose another --out, set the requirement with --min-free-gb N, or skip the check with --skip-disk-check",
      ),
    ],
    disk,
  };
}

/** "a", "a or b", "a, b or c". */
function orList(values: readonly string[]): string {
  return values.length <= 1 ? (values[0] ?? "") : `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
}

/** The flag and value each set option puts on csttool's command line (false booleans put nothing). */
function passedFlags(options: CsttoolOptions): { spec: OptionSpec; value: string | null }[] {
  const o = options as Record<string, unknown>;
  const out: { spec: OptionSpec; value: string | null }[] = [];
  for (const spec of OPTION_SPECS) {
    const v = o[spec.key];
    if (v === undefined || v === null || v === false) continue;
    out.push({ spec, value: spec.kind === "bool" || spec.kind === "voxel" ? null : String(v) });
  }
  return out;
}

/**
 * The resolved options against what this csttool's `run --help` offers: a flag it does not have,
 * or a value outside its choices, is an error (one per flag and value, naming the tasks when not
 * all of them). Nothing to check when the capabilities were not probed.
 */
export function checkOptionsOffered(
  tasks: readonly { key: string; options: CsttoolOptions }[],
  capabilities: CsttoolCapabilities,
  version: string,
): Problem[] {
  if (!capabilities.probed) return [];
  const offered = new Set(capabilities.flags);
  const found = new Map<string, { spec: OptionSpec; value: string | null; choices: string[] | null; keys: string[] }>();
  for (const task of tasks) {
    for (const { spec, value } of passedFlags(task.options)) {
      const choices = capabilities.choices[spec.flag] ?? null;
      const missing = !offered.has(spec.flag);
      const badValue = !missing && value !== null && choices !== null && !choices.includes(value);
      if (!missing && !badValue) continue;
      const id = missing ? spec.flag : `${spec.flag}\0${value}`;
      const entry = found.get(id) ?? { spec, value: missing ? null : value, choices: missing ? null : choices, keys: [] };
      entry.keys.push(task.key);
      found.set(id, entry);
    }
  }
  const problems: Problem[] = [];
  for (const { spec, value, choices, keys } of found.values()) {
    const where = keys.length === tasks.length ? "" : ` (${keys.length} task(s): ${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", ..." : ""})`;
    const setting = `option ${spec.key} (cst-batch flag ${spec.cliFlag ?? spec.flag})`;
    if (choices !== null && value !== null) {
      problems.push(
        problem(
          "error",
          "options",
          `csttool ${version} accepts ${spec.flag} ${orList(choices)}; ${value} is not available in this version${where}`,
          `set ${setting} to one of: ${choices.join(", ")}`,
        ),
      );
    } else {
      problems.push(
        problem(
          "error",
          "options",
          `csttool ${version} has no ${spec.flag} (${setting} is set)${where}`,
          `remove ${spec.key} from the options, or use a csttool version whose \`csttool run --help\` lists ${spec.flag}`,
        ),
      );
    }
  }
  return problems;
}
