import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** A fake sbatch/qsub family that logs its argv and prints a job id. */
const FAKE = `#!/bin/sh
echo "\${0##*/} $*" >> "$FAKE_LOG"
case "\${0##*/}" in
  sbatch) echo 4242 ;;
  qsub) echo 4242.server ;;
  qstat) echo "Version: 2022.1.1" ;;
  scontrol) echo "MaxArraySize = 1001" ;;
esac
`;

/** Into `bin`: node, sh, bash, env and flock (wrappers exec'ing the system's), so a PATH of `bin` reaches no scheduler. */
export function linkBasicTools(bin: string): void {
  for (const tool of ["node", "sh", "bash", "env", "flock"]) {
    for (const d of ["/usr/local/bin", "/usr/bin", "/bin"]) {
      if (existsSync(path.join(d, tool))) {
        writeFileSync(path.join(bin, tool), `#!/bin/sh\nexec ${path.join(d, tool)} "$@"\n`);
        chmodSync(path.join(bin, tool), 0o755);
        break;
      }
    }
  }
}

/**
 * A PATH holding only node, sh, flock and the fake scheduler programs (no real sbatch reachable),
 * the env to use it, and the scheduler calls made so far.
 */
export function fakeSchedulerEnv(dir: string): { env: Record<string, string>; calls: () => string[] } {
  const bin = path.join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  linkBasicTools(bin);
  for (const name of ["sbatch", "scontrol", "scancel", "squeue", "sacct", "qsub", "qstat", "qdel"]) {
    writeFileSync(path.join(bin, name), FAKE);
    chmodSync(path.join(bin, name), 0o755);
  }
  const log = path.join(dir, "calls.log");
  return {
    env: { PATH: bin, FAKE_LOG: log, XDG_CONFIG_HOME: path.join(dir, "xdg") },
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []),
  };
}
