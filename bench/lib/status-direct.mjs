// Child process for figure 4: read the plan, then every task's state from its records
// (readAllTaskStates), as `status --no-scheduler` does; also times loadPlanRefs, the plan
// reader status uses (the task lines streamed into refs). Prints timings as JSON.
import { performance } from "node:perf_hooks";

const [out] = process.argv.slice(2);
const t0 = performance.now();
const [{ loadPlan, loadPlanRefs }, { readAllTaskStates }, { currentPlanPath }] = await Promise.all([
  import("../../dist/plan/load-plan.js"),
  import("../../dist/state/task-state.js"),
  import("../../dist/layout.js"),
]);
const t1 = performance.now();
const plan = await loadPlan(currentPlanPath(out));
const t2 = performance.now();
const states = await readAllTaskStates(out, plan.tasks);
const t3 = performance.now();
const counts = {};
for (const s of states) counts[s.status] = (counts[s.status] ?? 0) + 1;
const t4 = performance.now();
const slim = await loadPlanRefs(currentPlanPath(out), out);
const t5 = performance.now();
if (slim.tasks.length !== plan.tasks.length) throw new Error("loadPlanRefs and loadPlan disagree");
process.stdout.write(JSON.stringify({ importMs: t1 - t0, planMs: t2 - t1, statesMs: t3 - t2, slimPlanMs: t5 - t4, counts }) + "\n");
