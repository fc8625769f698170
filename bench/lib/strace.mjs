// Metadata calls on the study filesystem, counted with strace: `strace -f -y -e trace=file,desc`,
// kept when the call names a path below one of `roots` (the output folder, the BIDS folder);
// calls of child processes that exec something else (the csttool stand-in) are left out: they
// are csttool's, not cst-batch's. `total` counts the calls that look a path up (open, stat,
// access, mkdir, rename, unlink, rmdir: each a lookup, a round trip to the metadata server on
// NFS or Lustre); `descCalls` the metadata calls on an open descriptor (getdents64, fsync,
// ftruncate, flock, and the stat of an open descriptor, which Node makes as statx/newfstatat
// with an empty path and AT_EMPTY_PATH: answered from the attributes the open fetched); reads,
// writes and closes are data (closes reported apart, never in a total).
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";

export const canStrace = spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;

const DATA = new Set(["read", "pread64", "readv", "preadv", "write", "pwrite64", "writev", "pwritev", "close", "lseek"]);
const DESC_ONLY = new Set(["getdents64", "getdents", "fsync", "fdatasync", "ftruncate", "flock", "fcntl", "fstat", "dup", "dup2", "dup3", "ioctl", "fchmod", "fchown", "fadvise64", "fallocate"]);

/** Run argv under strace; returns { status, byCall, total (path calls), descByCall, descCalls, closes }. */
export function straceCounts(argv, { env, roots }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cst-bench-strace-"));
  const log = path.join(dir, "trace");
  try {
    const r = spawnSync("strace", ["-f", "-y", "-qq", "-e", "trace=file,desc", "-o", log, ...argv], { env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (!existsSync(log)) throw new Error(`strace wrote nothing: ${r.stderr}`);
    const lines = readFileSync(log, "utf8").split("\n");
    const execs = new Map();
    let main = null;
    for (const l of lines) {
      const m = /^(\d+)\s+execve\(/.exec(l);
      if (!m) continue;
      main ??= m[1];
      execs.set(m[1], true);
    }
    const byCall = {};
    const descByCall = {};
    let total = 0;
    let descCalls = 0;
    let closes = 0;
    // CST_BENCH_STRACE_DUMP=FILE: the counted lines of every run appended to FILE (to see what each call is).
    const dump = process.env.CST_BENCH_STRACE_DUMP ? [`# ${argv.join(" ")}`] : null;
    for (const l of lines) {
      const m = /^(\d+)\s+([a-z0-9_]+)\(/.exec(l);
      if (!m || m[2] === "execve") continue;
      if (m[1] !== main && execs.has(m[1])) continue;
      if (!roots.some((root) => l.includes(root))) continue;
      if (m[2] === "close") {
        closes++;
        continue;
      }
      if (DATA.has(m[2])) continue;
      dump?.push(l);
      if (DESC_ONLY.has(m[2]) || /^\d+\s+[a-z0-9_]+\(\d+<[^>]*>, "", /.test(l)) {
        descByCall[m[2]] = (descByCall[m[2]] ?? 0) + 1;
        descCalls++;
        continue;
      }
      byCall[m[2]] = (byCall[m[2]] ?? 0) + 1;
      total++;
    }
    if (dump) appendFileSync(process.env.CST_BENCH_STRACE_DUMP, `${dump.join("\n")}\n`);
    return { status: r.status, byCall, total, descByCall, descCalls, closes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `statx 19, openat 21, ...` sorted by count. */
export function formatByCall(byCall, per = 1) {
  return Object.entries(byCall)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${Number.isInteger(v / per) ? v / per : (v / per).toFixed(2)}`)
    .join(", ");
}
