import { defineConfig } from "vitest/config";

/**
 * The real-Slurm tests that reconfigure the shared test cluster (memory enforcement modes) and
 * set its node down: one file at a time, after the other suites (`npm run test:slurm-modes`,
 * called by .ci/run). The default config (vitest.config.ts) leaves them out.
 */
export default defineConfig({
  test: {
    include: ["test/slurm-modes/**/*.test.ts"],
    testTimeout: 420_000,
    hookTimeout: 300_000,
    pool: "forks",
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
