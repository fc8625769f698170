import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandOutcome } from "../../../src/schedulers/runner.js";
import { type Plan } from "../../../src/schemas/records.js";
import { SubmissionSchema, type Submission } from "../../../src/schemas/study-records.js";
import type { CommandRunner } from "../../../src/status/scheduler-view.js";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/schedulers");

export function fixture(rel: string): string {
  return readFileSync(path.join(FIXTURES, rel), "utf8");
}

/** A submission record as `submit` writes it: chunks of one task each unless given, one shard. */
export function writeSubmission(
  out: string,
  plan: Plan,
  o: { id?: string; jobId: string; createdAt?: string; chunks?: number[][]; scheduler?: Submission["scheduler"]; resources?: Record<string, unknown> },
): Submission {
  const chunks = o.chunks ?? plan.tasks.map((t) => [t.index]);
  const s = SubmissionSchema.parse({
    schema_version: 1,
    kind: "cst-batch-submission",
    submission_id: o.id ?? "20260103-100000-aaaa",
    created_at: o.createdAt ?? "2026-01-03T10:00:00.000Z",
    scheduler: o.scheduler ?? "slurm",
    plan_id: plan.plan_id,
    plan_path: path.join(out, ".cst-batch", "plans", `${plan.plan_id}.json`),
    command_line: ["cst-batch", "submit"],
    chunks,
    shards: [{ shard: 0, first_chunk: 0, count: chunks.length, job_id: o.jobId, script: "/x/array-0.sh", submit_argv: ["sbatch", "/x/array-0.sh"] }],
    collect: { job_id: "999", script: "/x/collect.sh", submit_argv: ["sbatch", "/x/collect.sh"] },
    resources: o.resources ?? { array: { time_seconds: 600, mem_mib: 1024, cpus: 1, partition: null, account: null, qos: null, gres: null }, timeout_minutes: 5, timeout_source: "walltime", chunk_size: 1 },
    dry_run: false,
  });
  const dir = path.join(out, ".cst-batch", "submissions");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${s.submission_id}.json`), JSON.stringify(s, null, 2));
  return s;
}

/** A runner that answers by program name and logs every call. */
export function fakeRunner(answers: Record<string, CommandOutcome>): CommandRunner & { calls: string[][] } {
  const calls: string[][] = [];
  const run = (async (argv: readonly string[]) => {
    calls.push([...argv]);
    return answers[argv[0] ?? ""] ?? { kind: "missing", command: argv[0] ?? "" };
  }) as CommandRunner & { calls: string[][] };
  run.calls = calls;
  return run;
}

export const ok = (stdout: string): CommandOutcome => ({ kind: "ok", stdout, stderr: "" });
export const ACCOUNTING_DISABLED: CommandOutcome = { kind: "failed", exitCode: 1, signal: null, stdout: "", stderr: "sacct: error: Slurm accounting storage is disabled\n" };
