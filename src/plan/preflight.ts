import { constants, promises as fsp } from "node:fs";
import path from "node:path";
import { errnoCode } from "../errors.js";
import { problem, type Problem } from "./problems.js";

/**
 * Checks on the output folder that do not depend on a single subject: writable, not the BIDS
 * folder itself, enough free disk for the tasks still to run.
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

export async function checkOutputDir(out: string, bidsDir: string | null): Promise<{ problems: Problem[]; existing: string }> {
  const problems: Problem[] = [];
  const abs = path.resolve(out);
  const existing = await nearestExisting(abs);
  if (bidsDir !== null) {
    const bids = path.resolve(bidsDir);
    if (abs === bids || (await sameFile(abs, bids))) {
      problems.push(problem("error", "output", `--out ${abs} is the BIDS folder itself`, "write results elsewhere, e.g. <bids>/derivatives/csttool"));
    }
  }
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

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [sa, sb] = await Promise.all([fsp.stat(a), fsp.stat(b)]);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
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
