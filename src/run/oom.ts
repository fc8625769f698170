import fs from "node:fs";
import path from "node:path";

/**
 * The kernel's count of OOM kills in this process's memory cgroup: `oom_kill` in
 * `memory.events` (cgroup v2) or `memory.oom_control` (cgroup v1, kernel >= 4.13). null when
 * there is no such file (no cgroup memory controller, not Linux). Cheap: two small reads.
 */
export function readOomKillCount(procSelfCgroup = "/proc/self/cgroup", root = "/sys/fs/cgroup"): number | null {
  let text: string;
  try {
    text = fs.readFileSync(procSelfCgroup, "utf8");
  } catch {
    return null;
  }
  const candidates: string[] = [];
  for (const line of text.split("\n")) {
    const [id, controllers, rel] = line.split(":");
    if (rel === undefined) continue;
    if (id === "0" && controllers === "") candidates.push(path.join(root, rel, "memory.events"));
    else if (controllers?.split(",").includes("memory")) candidates.push(path.join(root, "memory", rel, "memory.oom_control"));
  }
  for (const file of candidates) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(fs.readFileSync(file, "utf8"));
      if (m) return Number(m[1]);
    } catch {
      // not readable here: try the next
    }
  }
  return null;
}

/** Evidence for a SIGKILL cst-batch did not send, from the oom_kill counts before and after csttool ran. */
export function describeOomEvidence(before: number | null, after: number | null): string {
  if (before === null || after === null) return "no cgroup memory.events to confirm it";
  if (after > before) return `confirmed: the cgroup's memory.events oom_kill went from ${before} to ${after}`;
  return `the cgroup's memory.events shows no OOM kill (oom_kill ${after}): maybe killed from outside`;
}
