import fs from "node:fs";
import { listProcesses } from "./procs.js";

/**
 * Peak RSS of the group, sampled from /proc/<pid>/status: the larger of the largest VmHWM (a
 * process's own high-water mark, so a peak between samples is kept while the process lives) and
 * the VmRSS summed over the group (processes at their peak together). `exclude`: a pid not to
 * count (the peak reaper, see peak-wrapper.ts).
 */
export async function sampleRssKb(pgid: number, exclude: number | null = null): Promise<number | null> {
  const all = await listProcesses();
  if (!all) return null;
  let sum = 0;
  let peak = 0;
  let seen = false;
  for (const p of all) {
    if (p.pgid !== pgid || p.state === "Z" || p.pid === exclude) continue;
    try {
      const status = fs.readFileSync(`/proc/${p.pid}/status`, "utf8");
      const hwm = /^VmHWM:\s+(\d+)/m.exec(status);
      const rss = /^VmRSS:\s+(\d+)/m.exec(status);
      if (hwm) peak = Math.max(peak, Number(hwm[1]));
      if (rss) sum += Number(rss[1]);
      seen = true;
    } catch {
      // gone meanwhile
    }
  }
  return seen ? Math.max(sum, peak) : null;
}

