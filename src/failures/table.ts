import { FAILURE_ENTRIES, type FailureEntry, type StudyRef } from "./catalogue.js";

/** The example study the README's next steps are written for. */
export const README_STUDY: StudyRef = { out: "results", local: false };

/** The header of the README's "Failure categories" table. */
export const FAILURE_TABLE_HEADER = ["category", "exit code", "meaning", "also typed as", "resubmit factor", "recognised from", "next step (cluster study `results`)"] as const;

/** What a category is recognised from: scheduler words and exit statuses, run-one's stop signals. */
export function describeEvidence(e: FailureEntry): string {
  const s = e.scheduler;
  const parts: string[] = [];
  if (s.slurm.length > 0) parts.push(`Slurm ${s.slurm.join(", ")}`);
  if (s.pbsPro.length > 0) parts.push(`PBS Pro exit ${s.pbsPro.join(", ")}`);
  if (s.torque.length > 0) parts.push(`Torque exit ${s.torque.join(", ")}`);
  if (s.sge && s.sge.length > 0) parts.push(`Grid Engine qacct failed ${s.sge.join(", ")}`);
  if (s.lsf && s.lsf.length > 0) parts.push(`LSF ${s.lsf.join(", ")}`);
  if (s.note) parts.push(s.note);
  const signals = [...e.stopSignals, ...(e.stopSignalsIn?.lsf ?? []).map((sig) => `${sig} in an LSF job`)];
  if (signals.length > 0) parts.push(`run-one receiving ${signals.join(", ")}`);
  return parts.length > 0 ? parts.join("; ") : "run-one's own checks";
}

/** The README's "Failure categories" table as cells, one row per category (checked by test/unit/failures). */
export function failureTableRows(study: StudyRef = README_STUDY): string[][] {
  return FAILURE_ENTRIES.map((e) => [
    e.category,
    String(e.exitCode),
    e.meaning,
    e.aliases.join(", "),
    e.escalation ? `\`${e.escalation.flag}\`` : "",
    describeEvidence(e),
    e.nextStep(study),
  ]);
}

/** The table as markdown lines (what the README holds). */
export function failureTableMarkdown(study: StudyRef = README_STUDY): string {
  const row = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  return [row(FAILURE_TABLE_HEADER), row(FAILURE_TABLE_HEADER.map(() => "---")), ...failureTableRows(study).map(row)].join("\n");
}
