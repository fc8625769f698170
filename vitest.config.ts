import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // reconfigure the shared test Slurm and set its node down: run alone (vitest.slurm-modes.config.ts)
    exclude: [...configDefaults.exclude, "test/slurm-modes/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
