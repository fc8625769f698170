import path from "node:path";
import { pathToFileURL } from "node:url";
import type { PlanHeader } from "../schemas/records.js";
import { CST_BATCH_VERSION } from "../version.js";

export const BIDS_VERSION = "1.9.0";
const DEFAULT_NAME = "csttool corticospinal tract derivatives";

/** `dataset_description.json` of the output folder as a BIDS derivative dataset. */
export function datasetDescription(plan: PlanHeader): Record<string, unknown> {
  const name = plan.source.type === "manifest" && plan.source.name ? plan.source.name : DEFAULT_NAME;
  const description: Record<string, unknown> = {
    Name: name,
    BIDSVersion: BIDS_VERSION,
    DatasetType: "derivative",
    GeneratedBy: [
      { Name: "csttool", Version: plan.csttool.version },
      { Name: "cst-batch", Version: CST_BATCH_VERSION },
    ],
  };
  if (plan.source.type === "bids") {
    description["SourceDatasets"] = [{ URL: pathToFileURL(path.resolve(plan.source.bids_dir)).href }];
  }
  return description;
}

/**
 * `participants.tsv`: one row per subject with at least one successful task, in plan order; with
 * an `n_sessions` column (successful sessions) when any task of the plan has a session.
 */
export function participantsTsv(tasks: readonly { subject: string; session: string | null; success: boolean }[]): string {
  const p = new Participants();
  for (const t of tasks) p.add(t.subject, t.session, t.success);
  return p.tsv();
}

/** `participantsTsv` gathered task by task (collect never holds every task). */
export class Participants {
  private withSessions = false;
  private readonly counts = new Map<string, number>();

  add(subject: string, session: string | null, success: boolean): void {
    if (session !== null) this.withSessions = true;
    if (success) this.counts.set(subject, (this.counts.get(subject) ?? 0) + 1);
  }

  tsv(): string {
    const lines = [this.withSessions ? "participant_id\tn_sessions" : "participant_id"];
    for (const [subject, n] of this.counts) lines.push(this.withSessions ? `${subject}\t${n}` : subject);
    return lines.join("\n") + "\n";
  }
}
