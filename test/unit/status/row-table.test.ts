import { describe, expect, it } from "vitest";
import { formatRows, RowTable, TABLE_WINDOW } from "../../../src/cli/status-format.js";
import type { StatusRow } from "../../../src/status/derive.js";

function row(i: number, subject = `sub-${i}`): StatusRow {
  return {
    index: i,
    key: `${subject}_ses-01`,
    subject,
    session: "ses-01",
    state: i % 5 === 0 ? "failed" : "done",
    category: i % 5 === 0 ? "PIPELINE_FAILED" : null,
    reason: i % 5 === 0 ? "csttool exited 1" : null,
    attempts: 1,
    durationSeconds: 60,
    maxRssKb: 1024 * 700,
    maxRssSource: "rusage",
    jobId: `12_${i}`,
    logPath: `logs/${subject}_ses-01.log`,
    errorLogPath: null,
    schedulerLogPath: null,
    lockOwner: null,
    damagedFile: null,
    scheduler: null,
    writeBack: null,
    failures: [],
    staleLock: false,
  };
}

const print = (rows: StatusRow[]): string[] => {
  const t = new RowTable("/study", 160);
  const lines: string[] = [];
  for (const r of rows) lines.push(...t.add(r));
  return [...lines, ...t.finish()];
};

describe("status --all printed as the rows come", () => {
  it("a table within the window is exactly the table of all rows at once", () => {
    const rows = Array.from({ length: 40 }, (_, i) => row(i));
    expect(print(rows)).toEqual(formatRows({ out: "/study" }, rows, 160));
  });

  it("a longer table prints every row once, under one header, with the widths of the first rows", () => {
    const rows = Array.from({ length: TABLE_WINDOW + 500 }, (_, i) => row(i));
    const t = new RowTable("/study", 160);
    let printedEarly = 0;
    for (const r of rows) printedEarly += t.add(r).length;
    // Printed before the end: the window (and its header) and every later row as it came.
    expect(printedEarly).toBe(rows.length + 1);
    const lines = print(rows);
    expect(lines).toHaveLength(rows.length + 1);
    expect(lines.filter((l) => l.startsWith("subject "))).toHaveLength(1);
    const head = formatRows({ out: "/study" }, rows.slice(0, TABLE_WINDOW), 160);
    expect(lines.slice(0, TABLE_WINDOW + 1)).toEqual(head);
    expect(lines.at(-1)).toContain(`sub-${rows.length - 1}`);
  });
});
