import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";

/**
 * The local Grid Engine of scripts/sge-local-start.sh: its client wrappers live in
 * $CST_SGE_PREFIX/bin (default /opt/cst-sge/bin), never in /usr/bin where Slurm's qsub wrapper is.
 */
export const SGE_BIN = path.join(process.env.CST_SGE_PREFIX ?? "/opt/cst-sge", "bin");

let cached: { available: true } | { available: false; reason: string } | undefined;

export function sgeAvailable(): { available: true } | { available: false; reason: string } {
  if (cached) return cached;
  if (!existsSync(path.join(SGE_BIN, "qstat"))) return (cached = { available: false, reason: `${SGE_BIN}/qstat is missing (run scripts/sge-local-start.sh as root)` });
  try {
    const out = execFileSync(path.join(SGE_BIN, "qstat"), ["-f"], { encoding: "utf8", stdio: "pipe", timeout: 15_000 });
    if (!/^all\.q@/m.test(out)) return (cached = { available: false, reason: `no queue instance in qstat -f: ${out.slice(0, 200)}` });
    return (cached = { available: true });
  } catch (e) {
    return (cached = { available: false, reason: `qstat -f failed: ${(e as Error).message.split("\n")[0]}` });
  }
}

/** For `describe.skipIf(!requireSgeOrSkip())`; CST_REQUIRE_SGE=1 turns the skip into a failure. */
export function requireSgeOrSkip(): boolean {
  const s = sgeAvailable();
  if (s.available) return true;
  if (process.env.CST_REQUIRE_SGE === "1") throw new Error(`CST_REQUIRE_SGE=1 but Grid Engine is not usable: ${s.reason}`);
  console.warn(`[sge tests skipped] ${s.reason}`);
  return false;
}

/**
 * A bin folder first on PATH whose qsub/qstat/qacct/qdel log each call to `<dir>/calls.log` and
 * run the real Grid Engine clients; then SGE_BIN (so Slurm's qsub wrapper in /usr/bin is shadowed
 * for this process tree only).
 */
export function sgeWrapperBin(dir: string): { env: Record<string, string>; calls: () => string[]; reset: () => void } {
  mkdirSync(dir, { recursive: true });
  const log = path.join(dir, "calls.log");
  for (const tool of ["qsub", "qstat", "qacct", "qdel"]) {
    writeFileSync(path.join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> '${log}'\nexec '${path.join(SGE_BIN, tool)}' "$@"\n`);
    chmodSync(path.join(dir, tool), 0o755);
  }
  return {
    env: { PATH: `${dir}:${SGE_BIN}:${process.env.PATH ?? ""}` },
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []),
    reset: () => writeFileSync(log, ""),
  };
}

/** Wait until none of the jobs is in the queue any more (`qstat -u '*'` lists no such job number). */
export async function waitForSgeJobsGone(jobIds: string[], maxMs: number): Promise<void> {
  const end = Date.now() + maxMs;
  for (;;) {
    const out = execFileSync(path.join(SGE_BIN, "qstat"), ["-u", "*"], { encoding: "utf8" });
    const live = new Set(out.split("\n").map((l) => l.trim().split(/\s+/)[0]));
    if (!jobIds.some((id) => live.has(id))) return;
    if (Date.now() > end) throw new Error(`Grid Engine jobs ${jobIds.join(",")} still queued after ${maxMs} ms:\n${out}`);
    await delay(500);
  }
}
