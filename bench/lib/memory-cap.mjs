// Running a command under a real memory cap (figure 8: "a 200,000-task study plans, runs, reports
// status and collects on a login node with a 1 GB memory cap", issue 21).
//
// The cgroup v1 memory controller first: a child of this process's own memory cgroup
// (/proc/self/cgroup), one fresh child per command, memory.limit_in_bytes (and
// memory.memsw.limit_in_bytes where swap accounting exists) set to the cap; the command's shell
// writes itself into cgroup.procs and execs the command, so the command and everything it starts
// are capped. The kernel reclaims page cache at the cap and kills the command (OOM) when its own
// memory passes it. memory.max_usage_in_bytes is the cgroup's peak (process memory plus the page
// cache it was charged for). When no cgroup can be made, `prlimit --as` (an address-space limit:
// much stricter for Node, whose V8 reserves address space it never touches) and the output says so.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";

const CGROUP_ROOT = "/sys/fs/cgroup/memory";

function ownMemoryCgroup() {
  try {
    const line = readFileSync("/proc/self/cgroup", "utf8")
      .split("\n")
      .find((l) => l.split(":")[1]?.split(",").includes("memory"));
    if (!line) return null;
    const dir = path.join(CGROUP_ROOT, line.split(":").slice(2).join(":"));
    return existsSync(path.join(dir, "cgroup.procs")) ? dir : null;
  } catch {
    return null;
  }
}

const readNumber = (file) => {
  try {
    return Number(readFileSync(file, "utf8").trim());
  } catch {
    return null;
  }
};

/** OOM kills the kernel counted in this cgroup (`oom_kill N` in memory.oom_control, newer kernels). */
function oomKills(dir) {
  try {
    const m = /oom_kill (\d+)/.exec(readFileSync(path.join(dir, "memory.oom_control"), "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

let seq = 0;

/**
 * A memory cap of `bytes`: `kind` "cgroup-v1" (with the parent folder), "prlimit-as" or "none"
 * (`why`). `wrap(argv)` returns the command line to run and a `done()` that reads the figures
 * after it ended (peak charge of the cgroup, OOM kills) and removes the child cgroup.
 */
export function memoryCap(bytes) {
  const parent = ownMemoryCgroup();
  if (parent !== null) {
    const probe = path.join(parent, `cst-bench-cap-${process.pid}-probe`);
    try {
      mkdirSync(probe);
      writeFileSync(path.join(probe, "memory.limit_in_bytes"), String(bytes));
      rmdirSync(probe);
      return { kind: "cgroup-v1", describe: `cgroup v1 memory controller, a child of ${parent}, memory.limit_in_bytes ${bytes}`, wrap: (argv) => cgroupWrap(parent, bytes, argv) };
    } catch (e) {
      try {
        rmdirSync(probe);
      } catch {
        // not made
      }
      if (spawnSync("prlimit", ["--version"]).status === 0) return prlimitCap(bytes, `no cgroup (${e.code ?? e.message})`);
      return { kind: "none", describe: `no cgroup (${e.code ?? e.message}) and no prlimit`, wrap: (argv) => ({ argv, done: () => ({}) }) };
    }
  }
  if (spawnSync("prlimit", ["--version"]).status === 0) return prlimitCap(bytes, "no memory cgroup for this process");
  return { kind: "none", describe: "no memory cgroup and no prlimit", wrap: (argv) => ({ argv, done: () => ({}) }) };
}

function cgroupWrap(parent, bytes, argv) {
  const dir = path.join(parent, `cst-bench-cap-${process.pid}-${seq++}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "memory.limit_in_bytes"), String(bytes));
  if (existsSync(path.join(dir, "memory.memsw.limit_in_bytes"))) {
    try {
      writeFileSync(path.join(dir, "memory.memsw.limit_in_bytes"), String(bytes));
    } catch {
      // swap accounting off: no swap to limit
    }
  }
  const procs = path.join(dir, "cgroup.procs");
  return {
    argv: ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, ...argv],
    done: () => {
      const peakBytes = readNumber(path.join(dir, "memory.max_usage_in_bytes"));
      const failcnt = readNumber(path.join(dir, "memory.failcnt"));
      const kills = oomKills(dir);
      for (let i = 0; i < 20; i++) {
        try {
          rmdirSync(dir);
          break;
        } catch {
          spawnSync("sleep", ["0.1"]);
        }
      }
      return { peakBytes, failcnt, oomKills: kills };
    },
  };
}

function prlimitCap(bytes, why) {
  return {
    kind: "prlimit-as",
    describe: `prlimit --as=${bytes} (${why}; an address-space limit, stricter than a memory cap for Node)`,
    wrap: (argv) => ({ argv: ["prlimit", `--as=${bytes}`, "--", ...argv], done: () => ({}) }),
  };
}
