/**
 * Small parsers for the text schedulers print. They return null for what they do not
 * understand: status parsing must survive a format it has not seen.
 */

/** `45`, `1:05`, `2:01:05`, `1-02:01:05`, `00:00:04`, `1-02` (Slurm/PBS elapsed and walltime forms) -> seconds. */
export function parseClockSeconds(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t);
  if (!m) return null;
  const [, d, a, b, c] = m;
  const days = Number(d ?? 0);
  let h = 0;
  let min = 0;
  let s = 0;
  if (c !== undefined) {
    h = Number(a);
    min = Number(b);
    s = Number(c);
  } else if (b !== undefined) {
    if (d !== undefined) {
      h = Number(a);
      min = Number(b);
    } else {
      min = Number(a);
      s = Number(b);
    }
  } else if (d !== undefined) {
    h = Number(a);
  } else {
    s = Number(a);
  }
  return days * 86400 + h * 3600 + min * 60 + s;
}

const KB_FACTOR: Record<string, number> = { "": 1 / 1024, B: 1 / 1024, K: 1, M: 1024, G: 1024 ** 2, T: 1024 ** 3 };

/** `87004K`, `1.20G`, `0`, `3500kb`, `12mb`, `1024b` -> KiB (rounded); null when empty or unknown. */
export function parseSizeKb(text: string | undefined): number | null {
  if (text === undefined) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTB]?)(?:B)?$/i.exec(text.trim());
  if (!m) return null;
  const factor = KB_FACTOR[(m[2] ?? "").toUpperCase()];
  if (factor === undefined) return null;
  return Math.round(Number(m[1]) * factor);
}

/** Expand Slurm's `2-5`, `1,3,7-9`, `0-9%3`, `[2-5%2]` index lists. Null when not a list. */
export function expandIndexList(text: string): number[] | null {
  const body = text.replace(/^\[/, "").replace(/\]$/, "").replace(/%\d+$/, "");
  const out: number[] = [];
  for (const part of body.split(",")) {
    const range = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part);
    if (!range) return null;
    const from = Number(range[1]);
    const to = range[2] !== undefined ? Number(range[2]) : from;
    const step = range[3] !== undefined ? Number(range[3]) : 1;
    if (to < from || step < 1 || to - from > 1_000_000) return null;
    for (let i = from; i <= to; i += step) out.push(i);
  }
  return out;
}

/** Non-empty, trimmed lines. */
export function lines(stdout: string): string[] {
  return stdout
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
}
