import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { findReaperPython } from "../../../src/processes/peak-wrapper.js";
import { supervise, type SuperviseOptions } from "../../../src/run/supervise.js";

/** The peak reaper (src/processes/peak-wrapper.ts) is transparent: exit status, signals, start failures as without it. */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function opts(argv: string[], over: Partial<SuperviseOptions> = {}): SuperviseOptions {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cst-peak-"));
  dirs.push(dir);
  return { argv, env: process.env, token: `t-${path.basename(dir)}`, logRoot: dir, logFile: path.join(dir, "log"), logHeader: "# test", timeoutMs: null, graceMs: 1000, ...over };
}

const ALLOC = "const b = Buffer.alloc(700 * 1024 * 1024, 1); setTimeout(() => process.exit(b[5] === 1 ? 3 : 9), 200)";

test("a child holding 700 MB for 0.2 s: peak 650-800 MB from rusage, and its exit status 3 comes through", async () => {
  const r = await supervise(opts([process.execPath, "-e", ALLOC]));
  expect(r.exitCode).toBe(3);
  expect(r.maxRssSource).toBe("rusage");
  expect(r.maxRssKb! / 1024).toBeGreaterThanOrEqual(650);
  expect(r.maxRssKb! / 1024).toBeLessThanOrEqual(800);
}, 30_000);

test("a child that dies of SIGKILL is seen as killed by SIGKILL", async () => {
  const r = await supervise(opts([process.execPath, "-e", "process.kill(process.pid, 'SIGKILL')"]));
  expect(r.reason).toBe("exited");
  expect(r.signal).toBe("SIGKILL");
  expect(r.exitCode).toBeNull();
}, 30_000);

test("a timeout's SIGTERM reaches the child and the run ends by SIGTERM, with a peak still reported", async () => {
  const r = await supervise(opts([process.execPath, "-e", "setInterval(() => {}, 1000)"], { timeoutMs: 1500 }));
  expect(r.reason).toBe("timeout");
  expect(r.signal).toBe("SIGTERM");
  expect(r.maxRssKb).toBeGreaterThan(0);
  expect(r.survivors).toEqual([]);
}, 30_000);

test("an executable whose #! interpreter is missing is a start failure, as without the reaper", async () => {
  const o = opts([]);
  const script = path.join(o.logRoot, "bad-csttool");
  writeFileSync(script, "#!/no/such/interpreter\n");
  chmodSync(script, 0o755);
  const r = await supervise({ ...o, argv: [script] });
  expect(r.reason).toBe("spawn-failed");
  expect(r.spawnError?.code).toBe("ENOENT");
}, 30_000);

test("a missing executable is a start failure naming ENOENT", async () => {
  const r = await supervise(opts(["/no/such/csttool"]));
  expect(r.reason).toBe("spawn-failed");
  expect(r.spawnError?.code).toBe("ENOENT");
}, 30_000);

test("a version manager's python3 shim first on PATH is passed over for a real interpreter: the shim never runs, the peak still comes from rusage", async () => {
  const o = opts([]);
  const shims = path.join(o.logRoot, "shims");
  const calls = path.join(o.logRoot, "shim-calls");
  mkdirSync(shims);
  writeFileSync(path.join(shims, "python3"), `#!/bin/sh\necho "$@" >> ${JSON.stringify(calls)}\nexec /usr/bin/python3 "$@"\n`);
  chmodSync(path.join(shims, "python3"), 0o755);
  const env = { ...process.env, PATH: `${shims}:/usr/bin:/bin` };
  expect(findReaperPython(env.PATH)).toBe("/usr/bin/python3");
  const r = await supervise({ ...o, env, argv: [process.execPath, "-e", ALLOC] });
  expect(r.exitCode).toBe(3);
  expect(r.maxRssSource).toBe("rusage");
  expect(existsSync(calls)).toBe(false);
  // with only the shim on PATH, the shim is used rather than no reaper at all
  expect(findReaperPython(`${shims}:/no/such/dir`)).toBe(path.join(shims, "python3"));
}, 30_000);
