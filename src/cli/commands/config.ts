import path from "node:path";
import type { Command } from "commander";
import { CstError, EXIT } from "../../errors.js";
import { settingsPath } from "../../layout.js";
import { shellQuote } from "../../shell/shell-quote.js";
import { STUDY_SETTINGS, formatChange, readStudySettings, showSetting } from "../../study/settings.js";
import { settingsFromPlan } from "../../study/settings-from-plan.js";
import type { StudySettingsValues } from "../../schemas/settings.js";
import { exitCodesHelp } from "../exit-codes-help.js";
import { out } from "../output.js";
import type { SetExit } from "./set-exit.js";

/** One line per setting: name, value, the flag that sets it. */
function printSettings(settings: StudySettingsValues): void {
  const flagOf = new Map(STUDY_SETTINGS.map((s) => [s.key, s.flag]));
  const width = Math.max(...Object.keys(settings).map((k) => k.length), 8);
  for (const [key, value] of Object.entries(settings)) {
    const flag = flagOf.get(key) ?? `--${key.replace(/^options\./, "").replace(/_/g, "-")}`;
    out.data(`  ${key.padEnd(width)}  ${showSetting(value)}   (${flag})`);
  }
}

/** History entries shown by the human output (all of them in the file and in --json). */
const HISTORY_SHOWN = 5;

/** `cst-batch config --out DIR [--json]`: the study's recorded settings (docs/study-settings.md). */
export function registerConfigCommand(program: Command, setExit: SetExit): void {
  program
    .command("config")
    .description("show the study's settings: the flags its plan/submit commands were given, used by every later command on --out")
    .requiredOption("--out <dir>", "the study's output folder")
    .option("--json", "print the settings file as JSON on stdout")
    .addHelpText(
      "after",
      `
The first plan or submit into an --out records the flags it was given in
<out>/.cst-batch/settings.json; later plan and submit commands on that --out use them, and a flag
given again replaces its value (the command says so: old -> new). Only looks: writes nothing.

${exitCodesHelp([EXIT.OK, EXIT.USAGE])}`,
    )
    .action((opts: { out: string; json?: boolean }) => {
      const study = path.resolve(opts.out);
      const recorded = readStudySettings(study);
      const implied = recorded === null ? settingsFromPlan(study) : null;
      if (recorded === null && implied === null) {
        throw new CstError("INVALID_INPUT", `no settings recorded in ${settingsPath(study)}`, {
          hint: `the first \`cst-batch plan --out ${shellQuote(study)} --bids-dir DIR\` (or submit) records them`,
        });
      }
      if (recorded === null && implied !== null) {
        // A study planned before settings were recorded: what its current plan implies (written by the next plan or submit).
        if (opts.json === true) {
          out.json({ path: settingsPath(study), recorded: false, from_plan: true, settings: implied, history: [] });
          setExit(EXIT.OK);
          return;
        }
        out.data(`settings of ${study}: none recorded (${settingsPath(study)} is missing); its current plan implies:`);
        printSettings(implied);
        out.data(`the next \`cst-batch plan --out ${shellQuote(study)}\` (or submit) records them`);
        setExit(EXIT.OK);
        return;
      }
      const file = recorded!;
      if (opts.json === true) {
        out.json({ path: settingsPath(study), ...file });
        setExit(EXIT.OK);
        return;
      }
      out.data(`settings of ${study} (${settingsPath(study)}; recorded ${file.created_at}, changed ${file.updated_at}):`);
      printSettings(file.settings);
      if (file.resolved) out.data(`csttool at the last plan: ${file.resolved.csttool_executable} ${file.resolved.csttool_version} (plan ${file.resolved.plan_id})`);
      out.data("not listed: the built-in default (see `cst-batch plan --help`, `cst-batch submit --help`)");
      if (file.history.length > 0) {
        out.data("changes:");
        for (const h of file.history.slice(-HISTORY_SHOWN)) out.data(`  ${h.at}  ${h.changes.map(formatChange).join("; ")}  (${h.command})`);
        if (file.history.length > HISTORY_SHOWN) out.data(`  ... ${file.history.length - HISTORY_SHOWN} earlier (--json lists every one)`);
      }
      setExit(EXIT.OK);
    });
}
