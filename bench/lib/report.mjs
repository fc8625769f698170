// Output: the machine header and one line per figure.
import os from "node:os";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";

/** Cores, memory, CPU, kernel, node version, and the filesystem the data lives on. */
export function machineHeader(dataDir) {
  const cpus = os.cpus();
  const fsType = spawnSync("stat", ["-f", "-c", "%T", dataDir], { encoding: "utf8" }).stdout?.trim() || "?";
  let slurm = "absent";
  const s = spawnSync("sinfo", ["--version"], { encoding: "utf8" });
  if (s.status === 0) slurm = s.stdout.trim();
  const lines = [
    `cst-batch benchmarks  ${new Date().toISOString()}`,
    `machine: ${os.availableParallelism?.() ?? cpus.length} cores (${cpus[0]?.model ?? "?"}), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}`,
    `node ${process.version}, data in ${dataDir} (${fsType}), ${slurm}`,
    `load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
  ];
  if (process.env.NODE_EXTRA_CA_CERTS) {
    lines.push(`NODE_EXTRA_CA_CERTS is set (${process.env.NODE_EXTRA_CA_CERTS}): Node reads and parses it at every start, so every node figure carries it; figure 2 is also shown without it`);
  }
  return lines.join("\n");
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "n/a";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

export function fmtMb(kb) {
  return kb === null || kb === undefined ? "n/a" : `${(kb / 1024).toFixed(0)} MB`;
}

/**
 * One figure line: `name  median  (baseline: median, ratio)  target  ok/MISS`. `value` and
 * `base` are in the unit `fmt` formats; `ok` is null when there is no target to check.
 */
export function figureLine({ name, value, fmt = fmtMs, baseName, base, target, ok, note }) {
  const parts = [`${name.padEnd(44)} ${fmt(value).padStart(10)}`];
  if (baseName !== undefined) {
    const ratio = base && value !== null && value !== undefined ? value / base : null;
    parts.push(`baseline ${baseName} ${fmt(base)}, ratio ${ratio === null ? "n/a" : ratio.toFixed(2)}`);
  }
  if (target) parts.push(`target ${target}`);
  if (ok !== null && ok !== undefined) parts.push(ok ? "ok" : "MISS");
  if (note) parts.push(note);
  return parts.join("  |  ");
}

/** Read /proc/meminfo's MemAvailable (for the header note on memory pressure). */
export function memAvailableMb() {
  try {
    const m = /MemAvailable:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** "cpu 1.2 s vs 0.3 s": user + system time of the figure and its baseline (GNU time). */
export function cpuNote(figure, baseline) {
  if (figure.medianCpuMs === null || figure.medianCpuMs === undefined) return undefined;
  return `cpu ${fmtMs(figure.medianCpuMs)}${baseline?.medianCpuMs != null ? ` vs ${fmtMs(baseline.medianCpuMs)}` : ""}`;
}
