import type { TestContext } from "vitest";

/**
 * Figures of the reliability families: each family test loops, counts what it tried and what
 * survived, and reports one line (`kill-during-run: 100 tried, 100 survived`). The line is
 * printed when the test ends (visible in any vitest output) and kept in the test's meta, so
 * test/helpers/reliability-reporter.ts can print every family together at the end of the run.
 */

/** CST_RELIABILITY_FULL=1: the full counts; otherwise the small, fast version for `npm test`. */
export const FULL = process.env.CST_RELIABILITY_FULL === "1";

export function iterations(fast: number, full: number): number {
  return FULL ? full : fast;
}

export interface FamilyFigures {
  family: string;
  tried: number;
  /** How many came through as required. */
  ok: number;
  /** The word after the count: "survived", "clean errors", ... */
  noun?: string;
  /** Short descriptions of the failures (first few). */
  failures?: string[];
}

declare module "vitest" {
  interface TaskMeta {
    reliability?: FamilyFigures;
  }
}

export function familyLine(f: FamilyFigures): string {
  return `${f.family}: ${f.tried} tried, ${f.ok} ${f.noun ?? "survived"}`;
}

/** Record a family's figures on the test and print its line. */
export function reportFamily(ctx: TestContext, f: FamilyFigures): void {
  ctx.task.meta.reliability = f;
  const failures = (f.failures ?? []).slice(0, 10).map((s) => `\n    - ${s}`).join("");
  console.log(`[reliability] ${familyLine(f)}${failures}`);
}

/** A tally for one family: `run(label, fn)` counts a try and records a thrown error as a failure. */
export class Tally {
  tried = 0;
  ok = 0;
  readonly failures: string[] = [];

  constructor(readonly family: string, readonly noun = "survived") {}

  async run(label: string, fn: () => Promise<void> | void): Promise<void> {
    this.tried++;
    try {
      await fn();
      this.ok++;
    } catch (e) {
      this.failures.push(`${label}: ${(e as Error).message.split("\n").slice(0, 4).join(" | ")}`);
    }
  }

  figures(): FamilyFigures {
    return { family: this.family, tried: this.tried, ok: this.ok, noun: this.noun, failures: this.failures };
  }
}
