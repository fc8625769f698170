import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Slurm's commands faked on PATH for e2e tests that need the scheduler's answers under control:
 * sbatch answers 1001, 1002, ... and logs its argv (`<bin>/calls.log`); sacct prints
 * `<bin>/sacct.out`; `scontrol show job` prints `<bin>/scontrol-job.out`; squeue lists nothing.
 */
export function fakeSlurm(dir: string): string {
  const bin = path.join(dir, "fakebin");
  mkdirSync(bin, { recursive: true });
  const script = `#!/bin/sh
bin=$(dirname "$0")
name=$(basename "$0")
echo "$name $*" >> "$bin/calls.log"
case "$name" in
  scontrol) if [ "$2" = job ]; then cat "$bin/scontrol-job.out" 2>/dev/null; exit 0; fi; echo "MaxArraySize            = 1001"; exit 0 ;;
  squeue) exit 0 ;;
  sacct) cat "$bin/sacct.out" 2>/dev/null; exit 0 ;;
  scancel) exit 0 ;;
esac
n=$(( $(cat "$bin/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$bin/count"
echo "$((1000 + n))"
`;
  for (const name of ["sbatch", "scontrol", "squeue", "sacct", "scancel"]) {
    writeFileSync(path.join(bin, name), script);
    chmodSync(path.join(bin, name), 0o755);
  }
  return bin;
}
