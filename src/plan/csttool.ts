import { constants, promises as fsp } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { problem, type Problem } from "./problems.js";

/**
 * Find csttool at plan time: an absolute executable path (the plan stores it, so array tasks
 * do not depend on PATH), and its version from `csttool --version` (first x.y.z). With a given
 * version (`--csttool-version`), csttool is not run; when it is not on this host either (it lives
 * in a container), the name is kept as given.
 */
export interface CsttoolRequest {
  csttool: string;
  version: string | null;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** How long `csttool --version` may take. */
  probeTimeoutMs?: number;
}

export type CsttoolResolution = { ok: true; executable: string; version: string; problems: Problem[] } | { ok: false; problems: Problem[] };

const VERSION_RE = /(\d+\.\d+\.\d+)/;

/** The first `x.y.z` in a text, or null. */
export function parseCsttoolVersion(text: string): string | null {
  return VERSION_RE.exec(text)?.[1] ?? null;
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) return false;
    await fsp.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of an executable name (searched on PATH) or path (resolved against cwd). */
export async function findExecutable(name: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  if (name.includes("/")) {
    const abs = path.resolve(cwd, name);
    return (await isExecutableFile(abs)) ? abs : null;
  }
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(cwd, dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return null;
}

export async function resolveCsttool(req: CsttoolRequest): Promise<CsttoolResolution> {
  const given = req.version?.trim() ?? null;
  if (given !== null && parseCsttoolVersion(given) === null) {
    return { ok: false, problems: [problem("error", "csttool", `--csttool-version ${JSON.stringify(given)} is not a version (expected x.y.z)`, "pass the version csttool reports, e.g. 0.5.0")] };
  }
  const found = await findExecutable(req.csttool, req.cwd, req.env);
  if (found === null) {
    if (given !== null) {
      return {
        ok: true,
        executable: req.csttool.includes("/") ? path.resolve(req.cwd, req.csttool) : req.csttool,
        version: parseCsttoolVersion(given) as string,
        problems: [problem("warning", "csttool", `csttool ${JSON.stringify(req.csttool)} is not on this host; tasks will run it as given`, "make sure it exists where the tasks run (e.g. inside the container)")],
      };
    }
    const where = req.csttool.includes("/") ? path.resolve(req.cwd, req.csttool) : `${JSON.stringify(req.csttool)} on PATH`;
    return {
      ok: false,
      problems: [problem("error", "csttool", `csttool executable not found: ${where}`, "install csttool (pip install csttool), pass --csttool /path/to/csttool, or --csttool-version X when it only exists inside a container")],
    };
  }
  if (given !== null) return { ok: true, executable: found, version: parseCsttoolVersion(given) as string, problems: [] };
  try {
    const r = await execa(found, ["--version"], {
      reject: false,
      all: true,
      stdin: "ignore",
      timeout: req.probeTimeoutMs ?? 60_000,
      env: req.env,
      extendEnv: false,
      cwd: req.cwd,
    });
    const output = String(r.all ?? "");
    const version = parseCsttoolVersion(output);
    if (r.exitCode === 0 && version !== null) return { ok: true, executable: found, version, problems: [] };
    const tail = output.trim().split("\n").slice(-3).join(" | ");
    const why = r.timedOut ? "timed out" : r.exitCode !== 0 ? `exited with ${r.exitCode ?? r.signal}` : "printed no x.y.z version";
    return {
      ok: false,
      problems: [problem("error", "csttool", `\`${found} --version\` ${why}${tail ? `: ${tail}` : ""}`, "check the csttool installation, or pass --csttool-version X to skip the check")],
    };
  } catch (e) {
    return { ok: false, problems: [problem("error", "csttool", `cannot run ${found} --version: ${(e as Error).message}`, "check the csttool installation, or pass --csttool-version X")] };
  }
}
