import { taskKey } from "../layout.js";
import type { InvalidSubject, PlanTask } from "../schemas/plan.js";
import { problem, type Problem } from "./problems.js";

/**
 * `--skip-invalid`: the subjects preflight found errors in are planned as `invalid` (with their
 * problems) instead of stopping the plan; errors that belong to no subject still stop it. The
 * subjects' errors are kept, as warnings, for the printed list.
 */
export function splitInvalid(problems: readonly Problem[], tasks: readonly PlanTask[]): { invalid: InvalidSubject[]; problems: Problem[]; tasks: PlanTask[] } {
  const bySubject = new Map<string, InvalidSubject>();
  const rest: Problem[] = [];
  for (const p of problems) {
    if (p.severity !== "error" || !p.subject) {
      rest.push(p);
      continue;
    }
    const key = taskKey(p.subject, p.session);
    let entry = bySubject.get(key);
    if (entry === undefined) {
      entry = { key, subject: p.subject, session: p.session, problems: [] };
      bySubject.set(key, entry);
    }
    entry.problems.push({ category: p.category, message: p.message, fix: p.fix });
    rest.push({ ...p, severity: "warning", message: `planned as invalid: ${p.message}` });
  }
  const isInvalid = (t: PlanTask): boolean => bySubject.has(t.key) || bySubject.has(t.subject);
  const kept = tasks.filter((t) => !isInvalid(t)).map((t, index) => ({ ...t, index }));
  if (kept.length === 0 && bySubject.size > 0) {
    rest.push(problem("error", "discovery", `every subject is invalid (${bySubject.size}): nothing to plan`, "fix the problems listed above"));
  }
  const invalid = [...bySubject.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { invalid, problems: rest, tasks: kept };
}
