import { Option, type Command } from "commander";
import { CstError } from "../errors.js";
import { OPTION_SPECS, type OptionSpec } from "../schemas/options.js";
import { PLAN_DEFAULTS, type PlanRequest } from "../plan/request.js";
import { splitGlobList } from "../plan/glob.js";

/**
 * The flags `plan` and `submit` share: the input (--bids-dir | --manifest), --out, discovery
 * filters, csttool, run settings, preflight switches, and one flag per csttool option generated
 * from OPTION_SPECS (so the table, the schema and the command line cannot drift).
 */

/** The positive flag of an option spec on cst-batch's command line (`--fa-thr`, `--csttool-verbose`). */
export function cliFlagOf(spec: OptionSpec): string {
  return spec.cliFlag ?? spec.flag;
}

/** --include/--exclude: repeatable, and each value may hold several globs separated by commas (`sub-01,sub-02`; `{a,b}` stays one glob). */
function collectGlobs(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...splitGlobList(value)];
}

function describeSpec(spec: OptionSpec): string {
  const parts = [spec.description];
  if (spec.min !== undefined || spec.max !== undefined) parts.push(`${spec.min ?? "-inf"}..${spec.max ?? "inf"}`);
  if (spec.csttoolDefault !== undefined) parts.push(`csttool default: ${spec.csttoolDefault}`);
  return parts.join("; ");
}

/** Option objects for the csttool options, in table order. */
export function csttoolOptionFlags(): Option[] {
  const group = "csttool options (override the manifest's \"options\"):";
  const options: Option[] = [];
  for (const spec of OPTION_SPECS) {
    const flag = cliFlagOf(spec);
    switch (spec.kind) {
      case "bool":
        options.push(new Option(flag, describeSpec(spec)).helpGroup(group));
        options.push(new Option(`--no-${flag.slice(2)}`, `turn ${flag} off`).helpGroup(group));
        break;
      case "enum":
        options.push(new Option(`${flag} <value>`, describeSpec(spec)).choices(spec.values ?? []).helpGroup(group));
        break;
      case "voxel":
        options.push(new Option(`${flag} <mm...>`, `${describeSpec(spec)} (three numbers: X Y Z)`).helpGroup(group));
        break;
      default:
        options.push(new Option(`${flag} <${spec.kind === "int" ? "n" : "x"}>`, describeSpec(spec)).helpGroup(group));
    }
  }
  return options;
}

/** Add the shared plan flags to a command (plan, submit). */
export function addPlanFlags(command: Command): Command {
  const input = "input:";
  const run = "planning:";
  command
    .addOption(new Option("--bids-dir <dir>", "BIDS dataset root (sub-*/[ses-*/]dwi/)").helpGroup(input))
    .addOption(new Option("--manifest <file>", "manifest JSON/JSONC listing the subjects (see `cst-batch manifest init`)").helpGroup(input))
    .addOption(new Option("--subject-pattern <glob>", "subject folder names (BIDS)").default(PLAN_DEFAULTS.subjectPattern).helpGroup(input))
    .addOption(new Option("--session-pattern <glob>", "session folder names (BIDS)").default(PLAN_DEFAULTS.sessionPattern).helpGroup(input))
    .addOption(new Option("--include <globs>", "only subjects whose id (sub-001 or 001) matches; comma-separated (sub-01,sub-02) or repeatable; a glob matching no subject is warned about").argParser(collectGlobs).helpGroup(input))
    .addOption(new Option("--exclude <globs>", "leave out subjects whose id (sub-001 or 001) matches; comma-separated (sub-01,sub-02) or repeatable; a glob matching no subject is warned about").argParser(collectGlobs).helpGroup(input))
    .addOption(new Option("--dwi-filter <glob>", "file name glob picking one DWI file when a dwi/ folder holds several runs/acquisitions (BIDS)").helpGroup(input))
    .addOption(new Option("--out <dir>", "output folder (results, logs, .cst-batch/ state)").helpGroup(run))
    .addOption(new Option("--csttool <path>", "csttool executable (resolved to an absolute path at plan time)").default(PLAN_DEFAULTS.csttool).helpGroup(run))
    .addOption(new Option("--csttool-version <x.y.z>", "do not run `csttool --version`; use this (csttool only inside a container)").helpGroup(run))
    .addOption(new Option("--timeout-minutes <n>", "wall-clock limit per subject (fractions allowed)").default(String(PLAN_DEFAULTS.timeoutMinutes)).helpGroup(run))
    .addOption(new Option("--grace-seconds <n>", "after the timeout, SIGTERM then SIGKILL after this many seconds").default(String(PLAN_DEFAULTS.graceSeconds)).helpGroup(run))
    .addOption(new Option("--min-free-gb <n>", "require this much free disk in --out instead of the estimate (4x input + 300 MB per pending task)").helpGroup(run))
    .addOption(new Option("--skip-disk-check", "do not check free disk space").helpGroup(run))
    .addOption(new Option("--allow-missing-atlas", "plan even when the real csttool's atlas data is missing or corrupt (every subject then fails at extract)").helpGroup(run))
    .addOption(new Option("--skip-invalid", "plan the valid subjects; record those with errors as invalid tasks (listed by status and collect) instead of writing no plan").helpGroup(run))
    .addOption(new Option("--rerun-changed", "rerun done subjects whose configuration or input changed (default: keep their results, planned as they were made)").helpGroup(run))
    .addOption(new Option("--json", "print the outcome as JSON on stdout").helpGroup(run));
  for (const option of csttoolOptionFlags()) command.addOption(option);
  return command;
}

const NUMBER_RE = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A number from a flag value; anything else is a usage error naming the flag. */
export function parseNumberFlag(flag: string, value: unknown): number {
  const text = String(value).trim();
  if (!NUMBER_RE.test(text)) {
    throw new CstError("USAGE", `${flag} expects a number, got ${JSON.stringify(String(value))}`, { hint: `pass a number, e.g. ${flag} 0.5` });
  }
  return Number(text);
}

function attributeName(flag: string): string {
  return new Option(flag).attributeName();
}

/** The command-line option layer (manifest-style keys) from commander's parsed values. */
export function optionLayerFromFlags(opts: Record<string, unknown>): Record<string, unknown> {
  const layer: Record<string, unknown> = {};
  for (const spec of OPTION_SPECS) {
    const flag = cliFlagOf(spec);
    const value = opts[attributeName(flag)];
    if (value === undefined) continue;
    switch (spec.kind) {
      case "bool":
        layer[spec.key] = value === true;
        break;
      case "enum":
        layer[spec.key] = String(value);
        break;
      case "voxel": {
        const list = Array.isArray(value) ? value : [value];
        if (list.length !== 3) {
          throw new CstError("USAGE", `${flag} takes three numbers (X Y Z mm), got ${list.length}: ${list.map((v) => JSON.stringify(String(v))).join(" ")}`, {
            hint: `e.g. ${flag} 2 2 2`,
          });
        }
        layer[spec.key] = list.map((v) => parseNumberFlag(flag, v));
        break;
      }
      default:
        layer[spec.key] = parseNumberFlag(flag, value);
    }
  }
  return layer;
}

/** The csttool option values as typed on the command line (key -> text), for messages. */
export function optionTextsFromFlags(opts: Record<string, unknown>): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const spec of OPTION_SPECS) {
    const value = opts[attributeName(cliFlagOf(spec))];
    if (value === undefined || spec.kind === "bool") continue;
    texts[spec.key] = Array.isArray(value) ? value.map(String).join(" ") : String(value);
  }
  return texts;
}

function optionalString(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

/** Turn the parsed shared flags into a PlanRequest; malformed flag values are usage errors. */
export function planRequestFromFlags(opts: Record<string, unknown>): PlanRequest {
  const bidsDir = optionalString(opts.bidsDir);
  const manifest = optionalString(opts.manifest);
  if (bidsDir && manifest) throw new CstError("USAGE", "give either --bids-dir or --manifest, not both", { hint: "one source per plan" });
  if (!bidsDir && !manifest) throw new CstError("USAGE", "give the subjects: --bids-dir DIR or --manifest FILE", {
      hint: "see --help for examples; once a study is planned, its --out alone is enough (the settings are recorded: `cst-batch config --out DIR`)",
    });
  const out = optionalString(opts.out);
  if (!out) throw new CstError("USAGE", "--out DIR is required", { hint: "the folder that will hold results, logs and .cst-batch/" });
  const timeoutMinutes = parseNumberFlag("--timeout-minutes", opts.timeoutMinutes ?? PLAN_DEFAULTS.timeoutMinutes);
  if (!(timeoutMinutes > 0)) throw new CstError("USAGE", `--timeout-minutes must be more than 0, got ${timeoutMinutes}`);
  const graceSeconds = parseNumberFlag("--grace-seconds", opts.graceSeconds ?? PLAN_DEFAULTS.graceSeconds);
  if (!(graceSeconds >= 0)) throw new CstError("USAGE", `--grace-seconds must be 0 or more, got ${graceSeconds}`);
  const minFreeGb = opts.minFreeGb === undefined ? null : parseNumberFlag("--min-free-gb", opts.minFreeGb);
  if (minFreeGb !== null && minFreeGb < 0) throw new CstError("USAGE", `--min-free-gb must be 0 or more, got ${minFreeGb}`);
  return {
    bidsDir,
    manifest,
    out,
    subjectPattern: optionalString(opts.subjectPattern) ?? PLAN_DEFAULTS.subjectPattern,
    sessionPattern: optionalString(opts.sessionPattern) ?? PLAN_DEFAULTS.sessionPattern,
    // Split again: a value recorded in the settings before comma lists were split (`["a,b"]`) means two globs too.
    include: Array.isArray(opts.include) ? (opts.include as string[]).flatMap(splitGlobList) : [],
    exclude: Array.isArray(opts.exclude) ? (opts.exclude as string[]).flatMap(splitGlobList) : [],
    dwiFilter: optionalString(opts.dwiFilter),
    options: optionLayerFromFlags(opts),
    optionTexts: optionTextsFromFlags(opts),
    csttool: optionalString(opts.csttool) ?? PLAN_DEFAULTS.csttool,
    csttoolVersion: optionalString(opts.csttoolVersion),
    timeoutMinutes,
    graceSeconds,
    minFreeGb,
    skipDiskCheck: opts.skipDiskCheck === true,
    allowMissingAtlas: opts.allowMissingAtlas === true,
    rerunChanged: opts.rerunChanged === true,
    skipInvalid: opts.skipInvalid === true,
  };
}
