import fs from "node:fs";
import { appendLineSync } from "./append.js";

/** Lines of a run's output kept in its record (the log holds them all). */
export const LOG_TAIL_LINES = 30;

/**
 * cst-batch's own lines in a subject's log (`logs/<key>.log`), in the log's line format:
 * `<ISO time> cst| <text>` beside csttool's `out|` / `err|` lines. Only for use while no
 * supervisor stream has the file open (before csttool starts or after supervise() returned),
 * since that stream writes at its own offset.
 */
export function noteSubjectLog(root: string, file: string, lines: readonly string[], now: Date = new Date()): void {
  const stamp = now.toISOString();
  appendLineSync(root, file, lines.map((l) => `${stamp} cst| ${l}`).join("\n"));
}

/** The last lines of a failed attempt's log (and of its copy, `logs/<key>_error.log`). */
export function failureLines(category: string, message: string, nextStep: string): string[] {
  return [`outcome: failed ${category}: ${message}`, `next step (${category}): ${nextStep}`];
}

/** The last lines of a subject's log (a run's record keeps them); none when it cannot be read. */
export async function readLogTail(file: string): Promise<string[]> {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "").slice(-LOG_TAIL_LINES);
  } catch {
    return [];
  }
}
