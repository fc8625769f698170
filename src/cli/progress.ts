import type { LocalProgress } from "../local/run-local.js";
import { color } from "./output.js";

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

function line(p: LocalProgress): string {
  const eta = p.etaMs === null ? "?" : formatDuration(p.etaMs);
  return (
    `${color("32", `done ${p.succeeded + p.skipped}`)} ` +
    `${p.failed > 0 ? color("31", `failed ${p.failed}`) : `failed ${p.failed}`} ` +
    `running ${p.running.length} left ${p.left}` +
    (p.busy > 0 ? ` busy-elsewhere ${p.busy}` : "") +
    `  elapsed ${formatDuration(p.elapsedMs)} eta ${eta}`
  );
}

/**
 * Live progress for local mode: one line redrawn in place on a terminal (at most every 200 ms),
 * plain lines (one per finished task) otherwise.
 */
export function createProgressRenderer(stream: NodeJS.WriteStream = process.stderr, quiet = false) {
  const tty = Boolean(stream.isTTY);
  let lastDraw = 0;
  let drawn = false;
  return {
    update(p: LocalProgress): void {
      if (quiet) return;
      if (!tty) {
        if (p.last) {
          const o = p.last.outcome;
          const what =
            o.kind === "failed" ? `failed (${o.category})` : o.kind === "busy" ? "running elsewhere (lock busy)" : o.kind === "skipped" ? "already done" : "done";
          stream.write(`[${p.total - p.left - p.running.length}/${p.total}] ${p.last.key}: ${what}\n`);
        }
        return;
      }
      const now = Date.now();
      if (!p.last && now - lastDraw < 200) return;
      lastDraw = now;
      stream.write(`\r\u001b[2K${line(p)}`);
      drawn = true;
    },
    finish(): void {
      if (tty && drawn) stream.write("\n");
    },
  };
}
