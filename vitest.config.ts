import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Slurm tests share one single-node cluster: they run in their own files, one at a time.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
