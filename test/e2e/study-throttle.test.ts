import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/errors.js";
import { makeDemoBids, runCli, STANDIN, tempDir } from "../helpers/cli.js";

/**
 * A throttled submit waits for the study's arrays the queue still holds (fake sbatch/squeue on a
 * PATH without real scheduler programs). The real-cluster proof is test/slurm/study-throttle.test.ts.
 */
function setup() {
  const dir = tempDir("cst-e2e-throttle-");
  const bids = makeDemoBids(path.join(dir, "bids"));
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  for (const tool of ["node", "sh", "bash", "env", "flock", "cat"]) {
    for (const d of ["/usr/local/bin", "/usr/bin", "/bin"]) {
      if (existsSync(path.join(d, tool))) {
        writeFileSync(path.join(bin, tool), `#!/bin/sh\nexec ${path.join(d, tool)} "$@"\n`);
        chmodSync(path.join(bin, tool), 0o755);
        break;
      }
    }
  }
  const queue = path.join(dir, "queue.txt");
  const log = path.join(dir, "calls.log");
  writeFileSync(queue, "");
  const fakes: Record<string, string> = {
    // job ids 100, 101, ... from a counter file
    sbatch: `#!/bin/sh\necho "sbatch $*" >> "$FAKE_LOG"\nn=$(cat "$FAKE_DIR/next" 2>/dev/null || echo 100)\necho $((n + 1)) > "$FAKE_DIR/next"\necho $n\n`,
    squeue: `#!/bin/sh\necho "squeue $*" >> "$FAKE_LOG"\ncat "$FAKE_DIR/queue.txt"\n`,
    scontrol: "#!/bin/sh\necho 'MaxArraySize = 1001'\n",
    scancel: "#!/bin/sh\nexit 0\n",
  };
  for (const [name, text] of Object.entries(fakes)) {
    writeFileSync(path.join(bin, name), text);
    chmodSync(path.join(bin, name), 0o755);
  }
  const env = { PATH: bin, FAKE_LOG: log, FAKE_DIR: dir, XDG_CONFIG_HOME: path.join(dir, "xdg") };
  const calls = (): string[] => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);
  return { dir, bids, out: path.join(dir, "out"), env, queue, calls };
}

const submit = (s: ReturnType<typeof setup>, extra: string[]) =>
  runCli(["submit", "--bids-dir", s.bids, "--out", s.out, "--csttool", STANDIN, "--skip-disk-check", "--json", "--scheduler", "slurm", "--time", "1h", ...extra], { env: s.env });

describe("a throttled submit and the study's arrays still in flight", () => {
  it("waits (afterany) for an earlier array the queue still runs, not for one that has ended", () => {
    const s = setup();
    const first = submit(s, ["--array-throttle", "2"]);
    expect(first.code, first.stderr).toBe(EXIT.OK);
    const firstJson = JSON.parse(first.stdout);
    expect(firstJson.job_ids).toEqual(["100"]);
    expect(firstJson.submission.resources.array_throttle_waits_for).toEqual([]);

    // the earlier array still has elements running and pending
    writeFileSync(s.queue, "100_0|100|100|0|RUNNING|None|0:05|node1\n100_[1-3%2]|100|100|1-3%2|PENDING|JobArrayTaskLimit|0:00|\n");
    const second = submit(s, ["--array-throttle", "2"]);
    expect(second.code, second.stderr).toBe(EXIT.OK);
    const j = JSON.parse(second.stdout);
    expect(j.submission.shards[0].depends_on).toEqual(["100"]);
    expect(j.scripts[0].submit_argv).toContain("--dependency=afterany:100");
    expect(j.submission.resources.array_throttle_waits_for).toEqual(["100"]);
    expect(j.notes.join("\n")).toMatch(/starts after the study's arrays still in the queue end \(job 100\)/);

    // once the queue shows them ended, nothing to wait for
    writeFileSync(s.queue, "100_0|100|100|0|COMPLETED|None|0:05|node1\n102_0|102|102|0|COMPLETED|None|0:05|node1\n");
    const third = submit(s, ["--array-throttle", "2"]);
    const k = JSON.parse(third.stdout);
    expect(k.submission.shards[0].depends_on).toEqual([]);
    expect(k.scripts[0].submit_argv.some((a: string) => a.startsWith("--dependency"))).toBe(false);
  });

  it("without a throttle nothing waits and the queue is not asked", () => {
    const s = setup();
    expect(submit(s, []).code).toBe(EXIT.OK);
    writeFileSync(s.queue, "100_0|100|100|0|RUNNING|None|0:05|node1\n");
    const again = JSON.parse(submit(s, []).stdout);
    expect(again.submission.shards[0].depends_on).toEqual([]);
    expect(s.calls().filter((c) => c.startsWith("squeue"))).toEqual([]);
  });

  it("--dry-run shows the lanes: shares summing to the throttle and a chained array's placeholder", () => {
    const s = setup();
    const r = submit(s, ["--array-throttle", "1", "--max-array-size", "2", "--dry-run"]);
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const j = JSON.parse(r.stdout);
    expect(j.submission.shards.map((x: { throttle: number }) => x.throttle)).toEqual([1, 1]);
    expect(j.scripts[0].text).toMatch(/^#SBATCH --array=0-1%1$/m);
    expect(j.scripts[1].submit_argv).toContain("--dependency=afterany:<job id of array-0>");
    expect(s.calls().filter((c) => c.startsWith("sbatch"))).toEqual([]);
  });
});
