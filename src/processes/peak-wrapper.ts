import fs from "node:fs";
import path from "node:path";

/**
 * The children's true peak memory at exit. Node gives no rusage of a reaped child
 * (`process.resourceUsage()` is the caller's own), and a child that allocates for 0.2 s between
 * two /proc samples is missed by sampling. So csttool is started under a tiny reaper that forks
 * it, waits, and writes `getrusage(RUSAGE_CHILDREN).ru_maxrss` (the largest resident set of every
 * process of the run it reaped, directly or through csttool's own waits; KiB on Linux) to a
 * pipe cst-batch reads. Python 3 is used for the reaper: csttool is a Python program, so an
 * interpreter is on the nodes that run it (any `python3` on the child's PATH will do).
 *
 * The reaper is transparent: it is the process group leader (csttool stays in the group, signals
 * to the group reach csttool directly), it ignores the stop signals itself while csttool runs (so
 * it can still report; one that came before csttool was forked is passed on to it), resets SIGPIPE/SIGXFSZ (Python ignores them) and fd CLOEXEC on the report
 * pipe before exec, and ends the way csttool ended: same exit status, or the same signal raised
 * on itself. An exec failure (ENOEXEC, a bad `#!` line) is reported as `E <errno name> <text>`.
 *
 * Turned off with CST_BATCH_PEAK_WRAPPER=0, or when no python3 is found: sampling alone then.
 */
const REAPER = String.raw`
import os, sys, signal, resource, errno
fd = int(sys.argv[1]); argv = sys.argv[2:]
stops = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT]
signal.pthread_sigmask(signal.SIG_BLOCK, stops)
pid = os.fork()
if pid == 0:
    for s in stops + [signal.SIGPIPE, signal.SIGXFSZ]: signal.signal(s, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    os.set_inheritable(fd, False)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(fd, ("E %s %s\n" % (errno.errorcode.get(e.errno, "UNKNOWN"), e.strerror)).encode())
        os._exit(127)
early = signal.sigpending() & set(stops)
for s in stops: signal.signal(s, lambda *a: None)
for s in early: os.kill(pid, s)
signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
while True:
    try:
        _, status = os.waitpid(pid, 0)
        break
    except ChildProcessError:
        status = 0
        break
try:
    os.write(fd, ("R %d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss).encode())
    os.close(fd)
except OSError:
    pass
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        signal.signal(sig, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)
os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
`;

/** First executable `name` on `PATH` (or `name` itself when it holds a slash); null if none. */
export function findExecutable(name: string, envPath: string | undefined, cwd: string = process.cwd()): string | null {
  const candidates = name.includes("/") ? [path.resolve(cwd, name)] : (envPath ?? "").split(path.delimiter).filter(Boolean).map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK); // one call per candidate: run-one's start-up is counted
      return c;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * The reaper's interpreter: the first `python3` on PATH that is a program, not a script. A
 * version manager's shim (pyenv, asdf: a shell script that finds the real interpreter) costs
 * ~0.3 s and a chain of processes at every start; a shim is used only when nothing else is found.
 */
export function findReaperPython(envPath: string | undefined, cwd: string = process.cwd()): string | null {
  let shim: string | null = null;
  for (const dir of (envPath ?? "").split(path.delimiter).filter(Boolean)) {
    const c = path.resolve(cwd, dir, "python3");
    let fd: number;
    try {
      fs.accessSync(c, fs.constants.X_OK);
      fd = fs.openSync(c, "r");
    } catch {
      continue;
    }
    const head = Buffer.alloc(2);
    try {
      fs.readSync(fd, head, 0, 2, 0);
    } catch {
      // unreadable but executable: take it as a program
    } finally {
      fs.closeSync(fd);
    }
    if (head.toString("latin1") !== "#!") return c;
    shim ??= c;
  }
  return shim;
}

export interface PeakWrapper {
  /** argv to spawn instead of the command. */
  argv: string[];
  /** The report pipe's fd number in the reaper (give `stdio[fd] = "pipe"`). */
  fd: number;
}

/**
 * Wrap `argv` in the reaper, whose report pipe is fd `fd`; null when it cannot be used (turned
 * off, no python3, or the command itself does not resolve: then spawn it directly so a missing
 * executable is reported as before).
 */
export function peakWrapper(argv: readonly string[], fd: number, env: NodeJS.ProcessEnv, cwd?: string): PeakWrapper | null {
  if (env.CST_BATCH_PEAK_WRAPPER === "0" || process.platform !== "linux") return null;
  const [file] = argv;
  if (file === undefined || findExecutable(file, env.PATH, cwd) === null) return null;
  const python = findReaperPython(env.PATH, cwd);
  if (python === null) return null;
  return { argv: [python, "-I", "-S", "-c", REAPER, String(fd), ...argv], fd };
}

export type PeakReport = { kind: "rusage"; maxRssKb: number } | { kind: "exec-error"; code: string; message: string } | { kind: "none" };

/** Parse what the reaper wrote. */
export function parsePeakReport(text: string): PeakReport {
  const e = /^E (\S+) (.*)$/m.exec(text);
  if (e) return { kind: "exec-error", code: e[1]!, message: e[2]! };
  const r = /^R (\d+)$/m.exec(text);
  if (r) return { kind: "rusage", maxRssKb: Number(r[1]) };
  return { kind: "none" };
}
