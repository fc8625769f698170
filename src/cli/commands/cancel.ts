import type { Command } from "commander";
import { EXIT } from "../../errors.js";
import type { CancelResult } from "../../cancel/cancel.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { color, out } from "../output.js";
import { shellQuote } from "../../shell/shell-quote.js";
import type { SetExit } from "./set-exit.js";

interface CancelFlags {
  out: string;
  subjects?: string;
  wait?: string;
  json?: boolean;
}

const HELP_AFTER = `
What is cancelled: every task of the study that status shows as running or queued (narrowed by
--subjects). Tasks on a scheduler: their array elements, with scancel (Slurm), qdel (PBS Pro,
Torque, Grid Engine) or bkill (LSF, elements as job[index]) of the recorded job ids, at most 5,000
elements per command; a running subject receives the scheduler's SIGTERM and
records CANCELLED, a queued one is recorded CANCELLED from the scheduler's verdict. A local run
(submit --scheduler local, this host): its process gets SIGTERM, records its running subjects and
those it had not started as CANCELLED, starts nothing more and collects. Done and failed subjects are left alone.

cancel waits (default 60 s, --wait) for the tasks to end and their records, then shows what they
came to. Running it again finds nothing to cancel and changes nothing. Rerun later with
\`cst-batch resubmit --out DIR --category CANCELLED\` (or resubmit --failed).

Examples:
  $ cst-batch cancel --out /scratch/study-cst
  $ cst-batch cancel --out results --subjects sub-07,sub-12 --json

${exitCodesHelp([EXIT.OK, EXIT.USAGE, EXIT.SYSTEM])}`;

/** `cst-batch cancel`: stop the study's queued and running tasks. */
export function registerCancelCommand(program: Command, setExit: SetExit): void {
  program
    .command("cancel")
    .description("cancel the study's queued and running tasks (scancel/qdel of its recorded jobs, or its local run); safe to repeat")
    .requiredOption("--out <dir>", "the output folder of `cst-batch submit`")
    .option("--subjects <list>", "only these subjects (sub-01,02,sub-03_ses-1), comma-separated")
    .option("--wait <seconds>", "how long to wait for the cancelled tasks to record their end (default 60)")
    .option("--json", "print the result as JSON on stdout")
    .addHelpText("after", HELP_AFTER)
    .action(async (flags: CancelFlags) => {
      const { cancelStudy } = await import("../../cancel/cancel.js");
      const { CstError } = await import("../../errors.js");
      let waitMs: number | undefined;
      if (flags.wait !== undefined) {
        const n = Number(flags.wait);
        if (!Number.isFinite(n) || n < 0) throw new CstError("USAGE", `--wait must be a number of seconds >= 0, found ${JSON.stringify(flags.wait)}`);
        waitMs = n * 1000;
      }
      const timeoutEnv = Number(process.env.CST_BATCH_SCHEDULER_TIMEOUT_SECONDS);
      const result = await cancelStudy({
        out: flags.out,
        subjects: flags.subjects !== undefined ? flags.subjects.split(",").map((s) => s.trim()).filter(Boolean) : null,
        ...(waitMs !== undefined ? { waitMs } : {}),
        ...(Number.isFinite(timeoutEnv) && timeoutEnv > 0 ? { commandTimeoutMs: timeoutEnv * 1000 } : {}),
      });
      if (flags.json) out.json(resultJson(result));
      else printHuman(result);
      setExit(EXIT.OK);
    });
}

function resultJson(r: CancelResult): unknown {
  const byKey = new Map(r.after.rows.map((row) => [row.key, row]));
  return {
    kind: r.targets.length === 0 ? "nothing-to-cancel" : "cancelled",
    out: r.after.out,
    targets: r.targets.map((t) => ({ key: t.key, state_before: t.state, how: t.how, id: t.id, state_after: byKey.get(t.key)?.state ?? null, category_after: byKey.get(t.key)?.category ?? null })),
    commands: r.commands,
    signalled_pids: r.signalled,
    still_in_flight: r.stillInFlight,
    not_started_cancelled: r.notStarted,
    totals: r.after.totals,
  };
}

/** A cancel command as one readable line: a long one (up to 5,000 ids) by its first and last ids and its count; --json has every id. */
function commandLine(argv: readonly string[]): string {
  if (argv.length <= 8) return argv.join(" ");
  return `${argv.slice(0, 4).join(" ")} ... ${argv.at(-1)} (${argv.length - 1} ids)`;
}

/** Target lines shown one by one; the rest are counted by what they came to (--json lists every one). */
const SHOWN_TARGETS = 10;
/** Commands shown one by one; more are counted (at 200,000 tasks: 40 commands of 5,000 ids). */
const SHOWN_COMMANDS = 5;

/** "a, b, c, ... (12 in all)": a list cut to its first `n`. */
function firstOf(items: readonly string[], n: number): string {
  return items.length <= n ? items.join(", ") : `${items.slice(0, n).join(", ")}, ... (${items.length} in all)`;
}

function printHuman(r: CancelResult): void {
  if (r.targets.length === 0) {
    out.info(`nothing to cancel: no task of ${r.after.out} is queued or running`);
    return;
  }
  const shownCommands = r.commands.length <= SHOWN_COMMANDS ? r.commands : r.commands.slice(0, SHOWN_COMMANDS - 1);
  for (const c of shownCommands) out.info(`${commandLine(c.argv)}: ${c.outcome}`);
  const moreCommands = r.commands.slice(shownCommands.length);
  if (moreCommands.length > 0) {
    const ok = moreCommands.filter((c) => c.outcome === "ok").length;
    out.info(`... and ${moreCommands.length} more command(s): ${ok} ok${ok < moreCommands.length ? `, ${moreCommands.length - ok} not` : ""} (--json has each)`);
    for (const c of moreCommands) if (c.outcome !== "ok") out.info(`${commandLine(c.argv)}: ${c.outcome}`);
  }
  if (r.signalled.length > 0) out.info(`local run: SIGTERM to pid ${r.signalled.join(", ")}`);
  const byKey = new Map(r.after.rows.map((row) => [row.key, row]));
  const came = (t: CancelResult["targets"][number]): string => {
    const after = byKey.get(t.key);
    return after ? `${after.state}${after.category ? ` ${after.category}` : ""}` : "?";
  };
  for (const t of r.targets.slice(0, SHOWN_TARGETS)) out.info(`  ${t.key}: ${t.state} (${t.id}) -> ${came(t)}`);
  if (r.targets.length > SHOWN_TARGETS) {
    // The rest by what they came to, most first: "running -> failed CANCELLED: 812".
    const counts = new Map<string, number>();
    for (const t of r.targets.slice(SHOWN_TARGETS)) {
      const k = `${t.state} -> ${came(t)}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const summary = [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`);
    out.info(`  ... and ${r.targets.length - SHOWN_TARGETS} more (${summary.join("; ")}; --json lists each)`);
  }
  if (r.notStarted.length > 0) out.info(`  not started yet, recorded CANCELLED: ${r.notStarted.length} task(s) (${r.notStarted.slice(0, 5).join(", ")}${r.notStarted.length > 5 ? ", ..." : ""})`);
  out.info(`${color("1", "cancelled")} ${r.targets.length + r.notStarted.length} task(s)`);
  out.info(`rerun them later: cst-batch resubmit --out ${shellQuote(r.after.out)} --category CANCELLED${r.signalled.length > 0 ? " --scheduler local" : ""}`);
  if (r.stillInFlight.length > 0) out.warn(`still queued or running after the wait: ${firstOf(r.stillInFlight, SHOWN_TARGETS)} (see \`cst-batch status --out ${shellQuote(r.after.out)}\`)`);
}
