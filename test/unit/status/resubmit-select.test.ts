import { describe, expect, it } from "vitest";
import { baseResourcesOf, scaleMem, scaleTime } from "../../../src/resubmit/resources.js";
import { parseRetryPolicy } from "../../../src/resubmit/resubmit.js";
import { selectRerun } from "../../../src/resubmit/select.js";
import type { PlanTask } from "../../../src/schemas/records.js";
import type { Submission } from "../../../src/schemas/study-records.js";
import { parseCategoryList } from "../../../src/failures/categories.js";
import { parseProfile } from "../../../src/profile/profile.js";
import type { StatusRow, StatusState } from "../../../src/status/derive.js";

function row(index: number, state: StatusState, category: StatusRow["category"] = null, failures: StatusRow["failures"] = []): StatusRow {
  const key = `sub-0${index}`;
  return { index, key, subject: key, session: null, state, category, reason: null, attempts: failures.length, durationSeconds: null, maxRssKb: null, maxRssSource: null, jobId: null, logPath: "", errorLogPath: null, schedulerLogPath: null, damagedFile: null, lockOwner: null, scheduler: null, writeBack: null, failures, staleLock: false };
}
const tasks = new Map<number, PlanTask>([0, 1, 2, 3, 4, 5, 6].map((i) => [i, { config_hash: "cfg" } as PlanTask]));

const ROWS = [
  row(0, "done"),
  row(1, "running"),
  row(2, "pending-in-queue"),
  row(3, "failed", "TIMEOUT", [{ category: "TIMEOUT", configHash: "cfg" }]),
  row(4, "failed", "OUT_OF_MEMORY", [{ category: "OUT_OF_MEMORY", configHash: "cfg" }, { category: "OUT_OF_MEMORY", configHash: "cfg" }]),
  row(5, "never-submitted"),
  row(6, "stale", "KILLED"),
];

describe("selectRerun", () => {
  it("never picks done, running or queued tasks; by default reruns failed, stale and never-run ones", () => {
    const s = selectRerun(ROWS, tasks, { failedOnly: false, categories: null, subjects: null, retry: {} });
    expect(s.rerun).toEqual([3, 4, 5, 6]);
  });

  it("--failed: only failed and stale; --category narrows further", () => {
    expect(selectRerun(ROWS, tasks, { failedOnly: true, categories: null, subjects: null, retry: {} }).rerun).toEqual([3, 4, 6]);
    expect(selectRerun(ROWS, tasks, { failedOnly: false, categories: ["TIMEOUT", "OUT_OF_MEMORY"], subjects: null, retry: {} }).rerun).toEqual([3, 4]);
  });

  it("--failed names a subject whose attempt failed but which is running or queued again, instead of leaving it out silently", () => {
    const rows = [row(1, "running", null, [{ category: "PIPELINE_FAILED", configHash: "cfg" }]), row(2, "pending-in-queue", null, [{ category: "TIMEOUT", configHash: "cfg" }]), row(0, "running")];
    const s = selectRerun(rows, tasks, { failedOnly: true, categories: null, subjects: null, retry: {} });
    expect(s.rerun).toEqual([]);
    expect(s.skipped).toEqual([
      { key: "sub-01", state: "running", why: expect.stringContaining("running now") },
      { key: "sub-02", state: "pending-in-queue", why: expect.stringContaining("queued now") },
    ]);
  });

  it("--subjects names running or done subjects as skipped", () => {
    const s = selectRerun(ROWS, tasks, { failedOnly: false, categories: null, subjects: ["sub-00", "01", "sub-03"], retry: {} });
    expect(s.rerun).toEqual([3]);
    expect(s.skipped.map((k) => k.key)).toEqual(["sub-00", "sub-01"]);
  });

  it("the profile's retry limit skips subjects that used up their attempts of a category, saying so", () => {
    const s = selectRerun(ROWS, tasks, { failedOnly: true, categories: null, subjects: null, retry: { OUT_OF_MEMORY: 2, TIMEOUT: 2 } });
    expect(s.rerun).toEqual([3, 6]);
    expect(s.skipped).toEqual([{ key: "sub-04", state: "failed", why: expect.stringContaining("retry limit is 2") }]);
  });

  it("failures of an older configuration do not count against the limit", () => {
    const old = [row(4, "failed", "OUT_OF_MEMORY", [{ category: "OUT_OF_MEMORY", configHash: "old" }, { category: "OUT_OF_MEMORY", configHash: "old" }])];
    expect(selectRerun(old, tasks, { failedOnly: true, categories: null, subjects: null, retry: { OUT_OF_MEMORY: 2 } }).rerun).toEqual([4]);
  });
});

describe("categories and resources", () => {
  it("accepts INPUT (and OOM) as aliases and rejects unknown names with the list", () => {
    expect(parseCategoryList("input, timeout,OOM")).toEqual(["INPUT_MISSING", "TIMEOUT", "OUT_OF_MEMORY"]);
    expect(() => parseCategoryList("TIMEOUT,SLOW")).toThrow(/unknown failure category "SLOW"/);
    expect(parseRetryPolicy({ INPUT: 1, TIMEOUT: 2 })).toEqual({ INPUT_MISSING: 1, TIMEOUT: 2 });
    expect(parseProfile('{"retry": {"TIMEOUT": 2, "OUT_OF_MEMORY": 2}}', "p.json").retry).toEqual({ TIMEOUT: 2, OUT_OF_MEMORY: 2 });
    expect(() => parseRetryPolicy({ SLOW: 1 })).toThrow(/profile retry: unknown failure category/);
  });

  it("reads the base resources back from a submission record; scaling rounds up", () => {
    const s = {
      resources: {
        array: { time_seconds: 3600, mem_mib: 8192, cpus: 2, partition: "short", account: null, qos: null, gres: null },
        collect: { time_seconds: 900, mem_mib: 2048, cpus: 1, partition: "short", account: null, qos: null, gres: null },
        timeout_minutes: 30,
        timeout_source: "explicit",
        chunk_size: 2,
        array_throttle: 50,
        job_name: "study",
        setup: ["module load csttool"],
        scheduler_args: [],
        container: null,
        template_dir: null,
        max_array_size: 1001,
      },
      submission_id: "x",
    } as unknown as Submission;
    const b = baseResourcesOf(s);
    expect(b.settings.array).toMatchObject({ timeSeconds: 3600, memMiB: 8192, cpus: 2, partition: "short" });
    expect(b.settings).toMatchObject({ chunkSize: 2, throttle: 50, jobName: "study", collectJobName: "study-collect", setupLines: ["module load csttool"], maxArraySize: 1001 });
    expect(b.explicitTimeoutMinutes).toBe(30);
    expect(scaleMem(8192, 1.5)).toBe(12288);
    expect(scaleTime(3600, 1.5)).toBe(5400);
    expect(scaleTime(100, 1.5)).toBe(180);
  });
});
