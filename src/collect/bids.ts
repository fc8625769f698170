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
  const withSessions = tasks.some((t) => t.session !== null);
  const counts = new Map<string, number>();
  for (const t of tasks) {
    if (!t.success) continue;
    counts.set(t.subject, (counts.get(t.subject) ?? 0) + 1);
  }
  const lines = [withSessions ? "participant_id\tn_sessions" : "participant_id"];
  for (const [subject, n] of counts) lines.push(withSessions ? `${subject}\t${n}` : subject);
  return lines.join("\n") + "\n";
}
