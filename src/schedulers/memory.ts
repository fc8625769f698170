import { CstError } from "../errors.js";

const FACTOR_MIB: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 };

/**
 * `--mem` values, binary units as schedulers use them (Slurm's `G` and PBS's `gb` are both 1024^3):
 * `4G`, `4GB`, `4g`, `500M`, `4096MB`, `1.5G`, `1T`, `2048K`. Returns whole MiB (rounded up).
 * A bare number is rejected: Slurm reads MB, PBS reads bytes.
 */
export function parseMemory(value: string, flag = "--mem"): number {
  const v = value.trim();
  const fail = (why: string, hint: string): never => {
    throw new CstError("USAGE", `${flag}: ${why}`, {
      details: ["expected: a size with a unit such as 4G, 4GB, 500M, 4096MB or 1.5G", `found: ${JSON.stringify(value)}`],
      hint,
    });
  };
  if (/^\d+(\.\d+)?$/.test(v)) {
    fail("a bare number has no unit", `add a unit: ${v}M or ${v}G (Slurm reads a bare number as MB, PBS as bytes)`);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT])(?:i?B)?$/i.exec(v);
  if (!m) fail("not a memory size", "use a number with a unit K, M, G or T (optionally followed by B)");
  const [, num, unit] = m as RegExpExecArray;
  const mib = Math.ceil(Number(num) * (FACTOR_MIB[(unit as string).toUpperCase()] as number));
  if (!(mib > 0)) fail("the size is zero", "give a positive memory request");
  return mib;
}

/** Slurm `--mem`: whole MiB with an `M` suffix (`4096M`). */
export function formatSlurmMemory(mib: number): string {
  assertWholePositive(mib);
  return `${mib}M`;
}

/** PBS Pro / Torque `mem=`: whole MiB with the `mb` suffix (`4096mb`). */
export function formatPbsMemory(mib: number): string {
  assertWholePositive(mib);
  return `${mib}mb`;
}

function assertWholePositive(mib: number): void {
  if (!Number.isInteger(mib) || mib <= 0) {
    throw new CstError("USAGE", `a memory request must be a whole number of MiB above zero, found ${mib}`);
  }
}
