import type { Reporter, TestModule } from "vitest/node";
import { familyLine, type FamilyFigures } from "./reliability-results.js";

/**
 * For `npm run test:reliability`: after the run, one line per reliability family
 * (`kill-during-run: 100 tried, 100 survived`), taken from each family test's meta.
 */
export default class ReliabilityReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const figures: FamilyFigures[] = [];
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const f = test.meta().reliability;
        if (f) figures.push(f);
      }
    }
    if (figures.length === 0) return;
    figures.sort((a, b) => (a.family < b.family ? -1 : a.family > b.family ? 1 : 0));
    process.stdout.write(`\nreliability families:\n${figures.map((f) => `  ${familyLine(f)}`).join("\n")}\n`);
  }
}
