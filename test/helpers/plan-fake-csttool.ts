import { promises as fsp } from "node:fs";
import path from "node:path";

/**
 * A stand-in csttool for planning: `--version` prints `csttool <version>`; anything else exits
 * with `exitCode` (default 0) without writing. Returns the script's absolute path.
 */
export async function makeVersionOnlyCsttool(dir: string, opts: { version?: string; name?: string; versionExitCode?: number } = {}): Promise<string> {
  const file = path.resolve(dir, opts.name ?? "csttool");
  await fsp.mkdir(dir, { recursive: true });
  const script = `#!/bin/sh
if [ "$1" = "--version" ]; then
  echo "csttool ${opts.version ?? "0.5.0"}"
  exit ${opts.versionExitCode ?? 0}
fi
exit 0
`;
  await fsp.writeFile(file, script, { mode: 0o755 });
  return file;
}
