// Timing and memory helpers: run a command, time it, take medians, read peak RSS.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const TIME_BIN = "/usr/bin/time";

/** Median of a list of numbers (mean of the middle two for an even count). */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Whether GNU time is there to report a child's peak RSS. */
export const canMeasureRss = existsSync(TIME_BIN);

/**
 * Run argv to completion; returns wall milliseconds, exit status, output and, through GNU time
 * when it is there, the child's CPU time (user + system, ms) and peak resident set (KB). CPU time
 * is the steadier figure on a loaded machine. The wrapper (one more exec) is used for every
 * command, so a figure and its baseline carry the same cost.
 */
export function run(argv, opts = {}) {
  const [file, ...args] = canMeasureRss ? [TIME_BIN, "-f", "RSSKB=%M CPU=%U+%S", ...argv] : argv;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw r.error;
  let rssKb = null;
  let cpuMs = null;
  let stderr = r.stderr ?? "";
  if (canMeasureRss) {
    const m = /RSSKB=(\d+) CPU=([\d.]+)\+([\d.]+)\s*$/.exec(stderr);
    if (m) {
      rssKb = Number(m[1]);
      cpuMs = (Number(m[2]) + Number(m[3])) * 1000;
      stderr = stderr.slice(0, m.index);
    }
  }
  if (opts.check !== false && r.status !== (opts.expectStatus ?? 0)) {
    throw new Error(`${argv.join(" ")} exited ${r.status ?? r.signal}:\n${stderr.slice(-2000)}`);
  }
  return { ms, status: r.status, stdout: r.stdout ?? "", stderr, rssKb, cpuMs };
}

/**
 * Time `fn` (which returns a run() result) `times` times after `warmup` untimed calls, calling
 * `before` (untimed) ahead of each call. Returns the samples and their median.
 */
export function sample(fn, { times = 5, warmup = 0, before } = {}) {
  for (let i = 0; i < warmup; i++) {
    before?.(i);
    fn(i);
  }
  const results = [];
  for (let i = 0; i < times; i++) {
    before?.(i + warmup);
    results.push(fn(i + warmup));
  }
  return summarize(results);
}

function summarize(results) {
  const ms = results.map((r) => r.ms);
  const rss = results.map((r) => r.rssKb).filter((v) => v !== null && v !== undefined);
  const cpu = results.map((r) => r.cpuMs).filter((v) => v !== null && v !== undefined);
  return {
    results,
    ms,
    medianMs: median(ms),
    medianCpuMs: cpu.length ? median(cpu) : null,
    maxRssKb: rss.length ? Math.max(...rss) : null,
    medianRssKb: rss.length ? median(rss) : null,
  };
}

/**
 * Several cases timed round by round (one run of each per round, after `warmup` untimed rounds),
 * so a drift in the machine's speed lands on all of them alike instead of in their difference.
 * `cases` maps a name to a function returning a run() result; the result maps each name to the
 * same summary `sample` gives.
 */
export function interleave(cases, { times = 5, warmup = 0 } = {}) {
  const names = Object.keys(cases);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < warmup + times; round++) {
    for (const n of names) {
      const r = cases[n](round);
      if (round >= warmup) results[n].push(r);
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarize(results[n])]));
}
