import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { linkBasicTools } from "./fake-scheduler.js";

/** The recorded LSF outputs (test/fixtures/schedulers/lsf/README.md names their sources). */
export const LSF_FIXTURES = fileURLToPath(new URL("../fixtures/schedulers/lsf/", import.meta.url));

/**
 * LSF's commands faked on PATH, replaying recorded outputs: `bsub` saves the script it reads on
 * stdin (`<bin>/bsub-stdin-N.sh`) and answers line N of the recorded `bsub_submitted.txt`
 * (ids 764254593, 2329803, 2848143); `bjobs` prints `<bin>/bjobs.out` (and, when `<bin>/bjobs.err`
 * exists, prints it on stderr and exits 255 as bjobs does for an id it no longer knows); `bkill`
 * prints the recorded `bkill.txt` and, when `<bin>/bjobs-after-bkill.out` exists, makes it
 * bjobs's next answer; `lsid` prints a version line. Every call is logged to `<bin>/calls.log`.
 * The PATH holds only these and node/sh/bash/env/flock: no real scheduler is reachable.
 */
export function fakeLsf(dir: string): { bin: string; env: Record<string, string>; calls: () => string[] } {
  const bin = path.join(dir, "fakebin");
  mkdirSync(bin, { recursive: true });
  linkBasicTools(bin);
  copyFileSync(path.join(LSF_FIXTURES, "bsub_submitted.txt"), path.join(bin, "bsub_submitted.txt"));
  copyFileSync(path.join(LSF_FIXTURES, "bkill.txt"), path.join(bin, "bkill.txt"));
  // The fake itself may use the system's cat/sed/mv; cst-batch's PATH stays without them.
  const script = `#!/bin/sh
PATH=/usr/bin:/bin
bin=\${0%/*}
name=\${0##*/}
echo "$name $*" >> "$bin/calls.log"
case "$name" in
  bsub)
    n=$(( $(cat "$bin/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$bin/count"
    cat > "$bin/bsub-stdin-$n.sh"
    sed -n "\${n}p" "$bin/bsub_submitted.txt" ;;
  bjobs)
    cat "$bin/bjobs.out" 2>/dev/null
    if [ -f "$bin/bjobs.err" ]; then cat "$bin/bjobs.err" >&2; exit 255; fi ;;
  bkill)
    cat "$bin/bkill.txt"
    if [ -f "$bin/bjobs-after-bkill.out" ]; then mv "$bin/bjobs-after-bkill.out" "$bin/bjobs.out"; fi ;;
  lsid) echo "IBM Spectrum LSF Standard 10.1.0.0, Jul 08 2016" ;;
esac
`;
  for (const name of ["bsub", "bjobs", "bkill", "lsid"]) {
    writeFileSync(path.join(bin, name), script);
    chmodSync(path.join(bin, name), 0o755);
  }
  const log = path.join(bin, "calls.log");
  return {
    bin,
    env: { PATH: bin, XDG_CONFIG_HOME: path.join(dir, "xdg") },
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []),
  };
}
