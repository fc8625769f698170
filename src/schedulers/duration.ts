import { CstError } from "../errors.js";

/**
 * `--time` values. Accepted, all meaning a wall-clock limit:
 *   - unit suffixes, combinable largest first: `2h`, `90m`, `45s`, `1h30m`, `1d12h`, `2d`
 *     (units d, h, m, s; whole numbers only)
 *   - clock forms: `HH:MM:SS` (`01:30:00`), `D-HH:MM:SS` (`1-02:00:00`), `D-HH` and `D-HH:MM`
 *     as in Slurm
 * Rejected:
 *   - a bare number (`90`): Slurm reads minutes and PBS reads seconds, so it is ambiguous; add a unit
 *   - `MM:SS` (`30:00`): Slurm reads minutes:seconds, PBS reads hours:minutes; write `30m` or `00:30:00`
 *   - zero, negative, or fractional values
 */
export function parseDuration(value: string, flag = "--time"): number {
  const v = value.trim();
  const fail = (why: string, hint: string): never => {
    throw new CstError("USAGE", `${flag}: ${why}`, {
      details: [`expected: a duration such as 2h, 90m, 1h30m, 45s, 01:30:00 or 1-02:00:00`, `found: ${JSON.stringify(value)}`],
      hint,
    });
  };
  if (/^\d+$/.test(v)) {
    fail("a bare number has no unit", `add a unit: ${v}m for minutes, ${v}s for seconds (Slurm reads a bare number as minutes, PBS as seconds)`);
  }
  let seconds: number | undefined;
  const units = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/i.exec(v);
  if (units && v !== "") {
    const [, d, h, m, s] = units;
    seconds = Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0);
  }
  const dayClock = /^(\d+)-(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2}))?$/.exec(v);
  if (seconds === undefined && dayClock) {
    const [, d, h, m, s] = dayClock;
    if (Number(m ?? 0) > 59 || Number(s ?? 0) > 59 || Number(h) > 23) fail("minutes/seconds above 59 or hours above 23", "write a valid D-HH:MM:SS");
    seconds = Number(d) * 86400 + Number(h) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0);
  }
  const clock = /^(\d+):(\d{1,2}):(\d{1,2})$/.exec(v);
  if (seconds === undefined && clock) {
    const [, h, m, s] = clock;
    if (Number(m) > 59 || Number(s) > 59) fail("minutes or seconds above 59", "write a valid HH:MM:SS");
    seconds = Number(h) * 3600 + Number(m) * 60 + Number(s);
  }
  if (seconds === undefined && /^\d+:\d{1,2}$/.test(v)) {
    fail("MM:SS is ambiguous (Slurm reads minutes:seconds, PBS hours:minutes)", "write it with units (30m) or as HH:MM:SS (00:30:00)");
  }
  if (seconds === undefined) fail("not a duration", "use units (2h, 90m, 1h30m, 45s) or HH:MM:SS / D-HH:MM:SS");
  if (seconds === 0) fail("the duration is zero", "give a positive time limit");
  return seconds as number;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/**
 * Slurm `--time`: `D-HH:MM:SS`, rounded UP to whole minutes — Slurm keeps time limits in minutes
 * (an observed `--time=01:02:03` became TimeLimit=01:03:00), so the script shows the limit that applies.
 */
export function formatSlurmDuration(seconds: number): string {
  assertWholePositive(seconds);
  const minutes = Math.ceil(seconds / 60);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return `${d}-${pad2(h)}:${pad2(m)}:00`;
}

/** PBS Pro / Torque `walltime`: `HH:MM:SS`, hours unbounded (`36:00:00` for a day and a half). */
export function formatPbsDuration(seconds: number): string {
  assertWholePositive(seconds);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${pad2(h)}:${pad2(m)}:${pad2(s)}`;
}

function assertWholePositive(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new CstError("USAGE", `a time limit must be a whole number of seconds above zero, found ${seconds}`);
  }
}
