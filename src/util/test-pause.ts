/**
 * Test hook for the reliability suite (test/reliability/kill-during-run.test.ts): with
 * CST_BATCH_TEST_PAUSE_AT=<point>[,<point>...] the process stops itself with SIGSTOP at that
 * named point, so a test can SIGKILL it exactly there. Without the variable it does nothing.
 *
 * Points: before-lock, after-lock, journal-written, promote-previous-out, promote-mid,
 * before-done, done-temp-written, after-done.
 */
export function pauseForTest(point: string): void {
  const wanted = process.env.CST_BATCH_TEST_PAUSE_AT;
  if (wanted && wanted.split(",").includes(point)) process.kill(process.pid, "SIGSTOP");
}
