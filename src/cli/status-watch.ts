import type { StatusOverview } from "../status/status.js";

/**
 * `status --watch`: refresh every `interval` seconds until nothing is queued or running (or
 * SIGINT/SIGTERM). On a terminal the frame is redrawn in place under a fixed header; off a
 * terminal a block is printed only when something changed; with --json one document per line
 * and refresh. A warning (a damaged file, ...) is printed once, not once per refresh.
 */
export interface WatchOptions<R extends StatusOverview = StatusOverview> {
  read: () => Promise<R>;
  interval: number;
  json: boolean;
  renderJson: (r: R) => string;
  /** The frame's body for a terminal of this size (rows: lines left under the header; null off a terminal). */
  render: (r: R, size: { rows: number | null; columns: number }) => string;
  warn: (text: string) => void;
  stdout?: NodeJS.WriteStream;
}

const CLEAR_SCREEN = "\u001b[2J\u001b[H";
const HOME = "\u001b[H";
const CLEAR_LINE_END = "\u001b[K";
const CLEAR_BELOW = "\u001b[J";

/** Nothing left to wait for: no task queued or running. */
export function watchIsOver(r: StatusOverview): boolean {
  return r.totals.running + r.totals["pending-in-queue"] === 0;
}

export async function watchStatus<R extends StatusOverview>(opts: WatchOptions<R>): Promise<"finished" | "stopped"> {
  const stdout = opts.stdout ?? process.stdout;
  const tty = Boolean(stdout.isTTY) && !opts.json;
  let stop = false;
  let wake: (() => void) | null = null;
  const onSignal = (): void => {
    stop = true;
    wake?.();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const warned = new Set<string>();
  let previous: string | null = null;
  let first = true;
  try {
    while (!stop) {
      const report = await opts.read();
      const over = watchIsOver(report);
      const header = `cst-batch status --out ${report.out} · every ${opts.interval} s · ${new Date().toLocaleTimeString()} · ${over ? "nothing queued or running: done watching" : "Ctrl-C stops"}`;
      if (opts.json) {
        stdout.write(opts.renderJson(report));
      } else if (tty) {
        const rows = stdout.rows ?? 24;
        const columns = stdout.columns ?? 80;
        const body = opts.render(report, { rows: rows - 1, columns }).replace(/\n$/, "").split("\n");
        // Never scroll: the frame is cut to the terminal's height so the header stays on its first line.
        const shown = body.length > rows - 1 ? [...body.slice(0, rows - 2), `… ${body.length - (rows - 2)} more line(s) (a taller terminal, --failed, or --json)`] : body;
        const frame = [header, ...shown].map((l) => l + CLEAR_LINE_END).join("\n");
        stdout.write(`${first ? CLEAR_SCREEN : HOME}${frame}${CLEAR_BELOW}${over ? "\n" : ""}`);
      } else {
        const body = opts.render(report, { rows: null, columns: 160 });
        if (body !== previous || over) stdout.write(`--- ${header}\n${body}\n`);
        previous = body;
      }
      first = false;
      for (const p of report.problems) {
        if (warned.has(p)) continue;
        warned.add(p);
        if (!tty) opts.warn(p);
      }
      if (over) return "finished";
      if (stop) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.interval * 1000);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
    if (tty) stdout.write("\n");
    return "stopped";
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // On a terminal the warnings would be drawn over: they come once, after the last frame.
    if (tty) for (const p of warned) opts.warn(p);
  }
}
