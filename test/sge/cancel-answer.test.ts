import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cancelCommands, onlyGoneIds } from "../../src/schedulers/cancel-batches.js";
import { runSchedulerCommand } from "../../src/schedulers/runner.js";
import { sgeBackend } from "../../src/schedulers/sge.js";
import { requireSgeOrSkip, SGE_BIN, waitForSgeJobsGone } from "../helpers/sge-env.js";

/**
 * A cancel whose list holds a task that ended after status read it (common in a large study: a
 * task finishes between the two): the real qdel deletes the others and exits 1 for the whole
 * list, and its answer must read as "stopped all it could", not as a failed cancel that stops
 * `cst-batch cancel` halfway. Built as cancel builds it (cancelCommands, the runner). ~10 s.
 */
const haveSge = requireSgeOrSkip();

describe.skipIf(!haveSge)("a cancel on a real Grid Engine when one task of its list has just ended", { timeout: 120_000 }, () => {
  it("qdel exits 1, deletes the rest, and its answer is read as only-gone ids (a real error's is not)", async () => {
    const env = { ...process.env, PATH: `${SGE_BIN}:${process.env.PATH}` };
    const qsub = path.join(SGE_BIN, "qsub");
    const job = execFileSync(qsub, ["-terse", "-h", "-t", "1-3", "-b", "y", "-o", "/dev/null", "-e", "/dev/null", "sleep", "300"], { env, encoding: "utf8" }).trim().split(".")[0]!;
    try {
      // Task 1 ends first (deleted here, as a finished task would be gone from the queue).
      execFileSync(path.join(SGE_BIN, "qdel"), [`${job}.1`], { env, encoding: "utf8" });
      // cst-batch names elements job_index with 0-based indices (sgeCancelArgv makes them job.task).
      const argvs = cancelCommands(sgeBackend, [`${job}_0`, `${job}_1`, `${job}_2`]);
      expect(argvs).toEqual([["qdel", `${job}.1`, `${job}.2`, `${job}.3`]]);
      const outcome = await runSchedulerCommand(argvs[0]!, { env });
      expect(outcome.kind).toBe("failed");
      expect(onlyGoneIds(sgeBackend, outcome)).toBe(true);
      // The others were deleted all the same: nothing of the job is left.
      await waitForSgeJobsGone([job], 60_000);
      // A job id the cell never had, beside an unparsable one: qdel's error is not "gone" for the second.
      const bad = await runSchedulerCommand(["qdel", "not-a-job"], { env });
      expect(bad.kind).toBe("failed");
      expect(onlyGoneIds(sgeBackend, bad)).toBe(false);
    } finally {
      try {
        execFileSync(path.join(SGE_BIN, "qdel"), [job], { env, stdio: "ignore" });
      } catch {
        // gone already
      }
    }
  });
});
