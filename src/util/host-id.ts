import fs from "node:fs";
import os from "node:os";

/**
 * A name for the kernel this process runs on: its hostname (made safe for a file name) and the
 * first 8 hex digits of the kernel's boot id. Processes that share a name share one kernel, whose
 * own write path orders their O_APPEND writes (also on an NFS or Lustre client); processes on
 * different machines never share a name, even containers that all call themselves `localhost`.
 * Without /proc (macOS) it is the hostname alone. Computed once per process.
 */
let cached: string | undefined;

export function hostId(): string {
  if (cached !== undefined) return cached;
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_").slice(0, 64) || "host";
  let boot = "";
  try {
    boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "latin1").replace(/[^0-9a-f]/gi, "").slice(0, 8);
  } catch {
    // no /proc: the hostname alone
  }
  cached = boot ? `${host}-${boot}` : host;
  return cached;
}
