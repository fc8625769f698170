import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { CsttoolCapabilities } from "../schemas/records.js";
import { parseRunHelp } from "./csttool-help.js";
import { problem, type Problem } from "./problems.js";

/**
 * Find csttool at plan time: an absolute executable path (the plan stores it, so array tasks
 * do not depend on PATH), its version from `csttool --version` (first x.y.z) and, in parallel,
 * what `csttool run --help` offers (flags and choices; not probed when the help is unavailable).
 * With a given version (`--csttool-version`), csttool is not run; when it is not on this host
 * either (it lives in a container), the name is kept as given.
 */
export interface CsttoolRequest {
  csttool: string;
  version: string | null;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** How long `csttool --version` (and `csttool run --help`) may take. */
  probeTimeoutMs?: number;
}

export type CsttoolResolution =
  | { ok: true; executable: string; version: string; capabilities: CsttoolCapabilities; problems: Problem[] }
  | { ok: false; problems: Problem[] };

/** Capabilities that were not probed, and why. */
export function notProbed(reason: string): CsttoolCapabilities {
  return { probed: false, reason, flags: [], choices: {} };
}

/**
 * How long `run --help` may outlive a finished `--version`: both pay csttool's start-up (~7.6 s
 * for 0.5.0), so a help that takes far longer is not coming (a stand-in that treats `--help` as
 * a run). Never more than the probe timeout.
 */
export function helpGraceMs(versionMs: number): number {
  return Math.max(5_000, 2 * versionMs);
}

const VERSION_RE = /(\d+\.\d+\.\d+)/;

/** The first `x.y.z` in a text, or null. */
export function parseCsttoolVersion(text: string): string | null {
  return VERSION_RE.exec(text)?.[1] ?? null;
}

// Synchronous: the probes are spawned as resolveCsttool is called, before plan's (synchronous)
// discovery starts, and run beside it (an await of the thread pool here would start them after it).
function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of an executable name (searched on PATH) or path (resolved against cwd). */
export function findExecutable(name: string, cwd: string, env: NodeJS.ProcessEnv): string | null {
  if (name.includes("/")) {
    const abs = path.resolve(cwd, name);
    return isExecutableFile(abs) ? abs : null;
  }
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(cwd, dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

export async function resolveCsttool(req: CsttoolRequest): Promise<CsttoolResolution> {
  const given = req.version?.trim() ?? null;
  if (given !== null && parseCsttoolVersion(given) === null) {
    return { ok: false, problems: [problem("error", "csttool", `--csttool-version ${JSON.stringify(given)} is not a version (expected x.y.z)`, "pass the version csttool reports, e.g. 0.5.0")] };
  }
  const found = findExecutable(req.csttool, req.cwd, req.env);
  if (found === null) {
    if (given !== null) {
      return {
        ok: true,
        executable: req.csttool.includes("/") ? path.resolve(req.cwd, req.csttool) : req.csttool,
        version: parseCsttoolVersion(given) as string,
        capabilities: notProbed("--csttool-version given and csttool is not on this host: csttool was not run"),
        problems: [problem("warning", "csttool", `csttool ${JSON.stringify(req.csttool)} is not on this host; tasks will run it as given`, "make sure it exists where the tasks run (e.g. inside the container)")],
      };
    }
    const where = req.csttool.includes("/") ? path.resolve(req.cwd, req.csttool) : `${JSON.stringify(req.csttool)} on PATH`;
    return {
      ok: false,
      problems: [problem("error", "csttool", `csttool executable not found: ${where}`, "install csttool (pip install csttool), pass --csttool /path/to/csttool, or --csttool-version X when it only exists inside a container")],
    };
  }
  if (given !== null) {
    return { ok: true, executable: found, version: parseCsttoolVersion(given) as string, capabilities: notProbed("--csttool-version given: csttool was not run"), problems: [] };
  }
  const timeout = req.probeTimeoutMs ?? 60_000;
  const probeOptions = { reject: false, stdin: "ignore", timeout, env: req.env, extendEnv: false, cwd: req.cwd } as const;
  // Its own process group, so that a child it left holding the pipe can be killed with it.
  const help = execa(found, ["run", "--help"], { ...probeOptions, all: false, detached: true });
  const helpDone = help.then(
    (h) => h,
    () => null,
  );
  const stopHelp = (): void => {
    try {
      if (help.pid !== undefined) process.kill(-help.pid, "SIGKILL");
    } catch {
      // already gone
    }
    help.kill("SIGKILL");
  };
  /** The help result, or "late" (and the probe killed) when it is not there within `ms`. */
  const helpWithin = async (ms: number): Promise<Awaited<typeof helpDone> | "late"> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), ms);
    });
    const h = await Promise.race([helpDone, late]);
    clearTimeout(timer);
    if (h === "late") stopHelp();
    return h;
  };
  try {
    const started = Date.now();
    const r = await execa(found, ["--version"], { ...probeOptions, all: true });
    const output = String(r.all ?? "");
    const version = parseCsttoolVersion(output);
    if (r.exitCode === 0 && version !== null) {
      const elapsed = Date.now() - started;
      const h = await helpWithin(Math.min(helpGraceMs(elapsed), Math.max(0, timeout - elapsed)));
      return { ok: true, executable: found, version, capabilities: h === "late" ? notProbed(HELP_LATE) : capabilitiesFrom(h), problems: [] };
    }
    stopHelp();
    const tail = output.trim().split("\n").slice(-3).join(" | ");
    const why = r.timedOut ? "timed out" : r.exitCode !== 0 ? `exited with ${r.exitCode ?? r.signal}` : "printed no x.y.z version";
    return {
      ok: false,
      problems: [problem("error", "csttool", `\`${found} --version\` ${why}${tail ? `: ${tail}` : ""}`, "check the csttool installation, or pass --csttool-version X to skip the check")],
    };
  } catch (e) {
    stopHelp();
    return { ok: false, problems: [problem("error", "csttool", `cannot run ${found} --version: ${(e as Error).message}`, "check the csttool installation, or pass --csttool-version X")] };
  }
}

const HELP_LATE = "`csttool run --help` did not answer in time";

/** Capabilities from the result of `csttool run --help` (not probed when it failed or is not argparse help). */
function capabilitiesFrom(h: { exitCode?: number | undefined; timedOut?: boolean; isTerminated?: boolean; stdout?: unknown } | null): CsttoolCapabilities {
  if (h === null) return notProbed("`csttool run --help` could not be run");
  if (h.timedOut || h.isTerminated) return notProbed(HELP_LATE);
  if (h.exitCode !== 0) return notProbed(`\`csttool run --help\` exited with ${h.exitCode ?? "a signal"}`);
  const parsed = parseRunHelp(String(h.stdout ?? ""));
  if (parsed === null) return notProbed("`csttool run --help` printed no argparse help");
  return { probed: true, reason: null, flags: parsed.flags, choices: parsed.choices };
}
