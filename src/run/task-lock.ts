import { randomHex } from "../util/random-hex.js";
import { CstError } from "../errors.js";
import { type TaskPaths } from "../layout.js";
import { mkdirConfined } from "../util/confined-fs.js";
import { hostName } from "./attempt.js";
import { acquireLock, type LockResult } from "../lock/lock.js";
import { pauseForTest } from "../util/test-pause.js";

/** Taking a subject's lock before its attempt (local mode takes the next one early). */

/** A task's subject lock being taken: its run token and the outcome to come. */
export interface TaskLock {
  /** The run's token (in the lock owner, and csttool's CST_BATCH_RUN_TOKEN). */
  token: string;
  /** Never left unhandled: a rejection is seen by whoever awaits it. */
  acquired: Promise<LockResult>;
}

/**
 * Start taking the lock of the subject folder `paths.dir` (made first). runOne calls this
 * itself; local mode calls it for a worker's next task once the current csttool is gone (before
 * its output is promoted), and passes the result as `RunOneOptions.lock`.
 */
export function lockTask(paths: Pick<TaskPaths, "out" | "dir" | "lock">, jobId: string | null): TaskLock {
  const token = randomHex(16);
  const acquired = (async (): Promise<LockResult> => {
    try {
      mkdirConfined(paths.out, paths.dir);
    } catch (e) {
      if (e instanceof CstError) throw e;
      throw new CstError("SYSTEM", `cannot create the subject folder ${paths.dir}: ${(e as Error).message}`, { cause: e });
    }
    pauseForTest("before-lock");
    return acquireLock(paths.lock, { pid: process.pid, host: hostName(), job_id: jobId, since: new Date().toISOString(), token, child_pgid: null });
  })();
  acquired.catch(() => {});
  return { token, acquired };
}
