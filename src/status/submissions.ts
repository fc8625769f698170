import { promises as fsp } from "node:fs";
import path from "node:path";
import { errnoCode } from "../errors.js";
import { submissionsDir } from "../layout.js";
import { SubmissionSchema, type Submission } from "../schemas/study-records.js";
import { readStateFile } from "../util/read-json.js";

/** One array element of a submission: which scheduler job/index ran which plan indices. */
export interface Placement {
  submission: Submission;
  /** Job id as recorded (`12`, `48[].server`). */
  jobId: string;
  /** Index inside that array job (null for a PBS Pro one-element job submitted as a plain job). */
  arrayIndex: number;
  /** Position of the task in its chunk (0 = first to run). */
  position: number;
  chunk: number[];
}

/** Every readable submission record under `<out>/.cst-batch/submissions/`, oldest first. Dry runs are left out. */
export async function readSubmissions(out: string, problems: string[] = []): Promise<Submission[]> {
  const dir = submissionsDir(out);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    problems.push(`${dir}: cannot list: ${(e as Error).message}`);
    return [];
  }
  const found: Submission[] = [];
  for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
    const file = path.join(dir, name);
    const r = await readStateFile(file, SubmissionSchema);
    if (r.kind === "ok") {
      if (!r.value.dry_run) found.push(r.value);
    } else if (r.kind === "corrupt") problems.push(`${file}: ${r.reason}`);
    else if (r.kind === "newer") problems.push(`${file}: schema_version ${r.found} is newer than this cst-batch`);
  }
  return found.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || a.submission_id.localeCompare(b.submission_id));
}

/**
 * The newest placement of each plan task (by task key: a later plan may renumber tasks), over
 * the submissions given (oldest first). `planKeys(submission)` maps a submission's plan indices
 * to task keys.
 */
export function latestPlacements(submissions: readonly Submission[], planKeys: (s: Submission) => (index: number) => string | undefined): Map<string, Placement> {
  const out = new Map<string, Placement>();
  for (const submission of submissions) {
    if (submission.scheduler === "local") continue;
    const keyOf = planKeys(submission);
    for (const shard of submission.shards) {
      if (shard.job_id === null) continue;
      for (let k = 0; k < shard.count; k++) {
        const chunk = submission.chunks[shard.first_chunk + k];
        if (!chunk) continue;
        chunk.forEach((planIndex, position) => {
          const key = keyOf(planIndex);
          if (key !== undefined) out.set(key, { submission, jobId: shard.job_id as string, arrayIndex: k, position, chunk });
        });
      }
    }
  }
  return out;
}

/** Every job id a submission's arrays run under. */
export function arrayJobIds(submission: Submission): string[] {
  return submission.shards.map((s) => s.job_id).filter((id): id is string => id !== null);
}

/**
 * The newest placement of each task, as `latestPlacements`, without a key per task of the
 * current plan: its submissions' placements are held by plan index (status never holds the
 * current plan's keys), those of other plans by key (a later plan may renumber tasks).
 */
export class PlacementIndex {
  private readonly byIndex = new Map<number, Placement>();
  private readonly byKey = new Map<string, Placement>();
  private readonly order = new Map<Submission, number>();

  constructor(submissions: readonly Submission[], currentPlanId: string, otherPlanKeys: (s: Submission) => (index: number) => string | undefined) {
    submissions.forEach((s, n) => this.order.set(s, n));
    const current = submissions.filter((s) => s.plan_id === currentPlanId);
    const other = submissions.filter((s) => s.plan_id !== currentPlanId);
    for (const [key, p] of latestPlacements(other, otherPlanKeys)) this.byKey.set(key, p);
    for (const [index, p] of latestPlacements(current, () => (i) => String(i))) this.byIndex.set(Number(index), p);
  }

  get(task: { index: number; key: string }): Placement | null {
    const a = this.byIndex.get(task.index);
    const b = this.byKey.get(task.key);
    if (!a || !b) return a ?? b ?? null;
    return (this.order.get(a.submission) ?? 0) >= (this.order.get(b.submission) ?? 0) ? a : b;
  }
}
