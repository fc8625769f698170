/** What running one scheduler command came to. Expected outcomes are values, not exceptions. */
export type CommandOutcome =
  | { kind: "ok"; stdout: string; stderr: string }
  | { kind: "failed"; exitCode: number | null; signal: string | null; stdout: string; stderr: string }
  | { kind: "missing"; command: string }
  | { kind: "timeout"; timeoutMs: number; stdout: string; stderr: string };

export interface RunCommandOptions {
  /** Default 60 s: a scheduler that does not answer within a minute is reported, not waited for. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * An argv ending in `<`, FILE (LSF: `bsub < script`) runs without those two words and with FILE
 * on stdin; any other argv runs with no stdin. The recorded argv keeps them, so it reads as the
 * command a user would type (formatArgv prints the `<` bare).
 */
export function stdinRedirect(argv: readonly string[]): { argv: readonly string[]; stdinFile: string | null } {
  if (argv.length >= 3 && argv[argv.length - 2] === "<") return { argv: argv.slice(0, -2), stdinFile: argv[argv.length - 1]! };
  return { argv, stdinFile: null };
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/**
 * Run one scheduler command (`sbatch`, `squeue`, `qsub`, ...) from an argv array, never through a
 * shell. The only module that starts scheduler programs; everything else builds argv and parses
 * stdout.
 */
export async function runSchedulerCommand(fullArgv: readonly string[], opts: RunCommandOptions = {}): Promise<CommandOutcome> {
  const { argv, stdinFile } = stdinRedirect(fullArgv);
  const [file, ...args] = argv;
  if (file === undefined) throw new TypeError("runSchedulerCommand: empty argv");
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  // Own process group, killed whole on timeout: a wrapper script's children (site sbatch
  // wrappers are often shell scripts) would otherwise keep the pipes open and block us.
  // Loaded here, not at the top: status without a scheduler query never needs it.
  const { execa } = await import("execa");
  const subprocess = execa(file, args, {
    reject: false,
    detached: true,
    cleanup: true,
    stdin: stdinFile !== null ? { file: stdinFile } : "ignore",
    stripFinalNewline: false,
    ...(opts.env !== undefined ? { env: opts.env, extendEnv: false } : {}),
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(subprocess.pid);
  }, timeoutMs);
  let result: Awaited<typeof subprocess>;
  try {
    result = await subprocess;
  } finally {
    clearTimeout(timer);
  }
  const stdout = typeof result.stdout === "string" ? result.stdout : "";
  const stderr = typeof result.stderr === "string" ? result.stderr : "";
  if (timedOut) return { kind: "timeout", timeoutMs, stdout, stderr };
  const code = (result as { code?: string }).code;
  if (result.failed && (code === "ENOENT" || (result.exitCode === undefined && /ENOENT/.test(String(result.message))))) {
    return { kind: "missing", command: file };
  }
  if (result.exitCode === 0 && !result.failed) return { kind: "ok", stdout, stderr };
  // Never started (E2BIG, EACCES, EAGAIN): the spawn's own error is the cause the user sees.
  const notStarted = result.exitCode === undefined && result.signal === undefined && stderr === "";
  const cause = notStarted ? `${file} could not be started: ${code ?? (result as { originalMessage?: string }).originalMessage ?? "unknown error"}\n` : stderr;
  return { kind: "failed", exitCode: result.exitCode ?? null, signal: result.signal ?? null, stdout, stderr: cause };
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}
