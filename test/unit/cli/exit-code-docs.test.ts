import { describe, expect, it } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EXIT, EXIT_CODES } from "../../../src/errors.js";
import { exitCodeForProblems, problem, PROBLEM_CATEGORIES } from "../../../src/plan/problems.js";
import { FAILURE_ENTRIES, failureEntry } from "../../../src/failures/catalogue.js";
import { FAILURE_TABLE_HEADER, failureTableRows } from "../../../src/failures/table.js";
import { FAILURE_CATEGORIES } from "../../../src/schemas/records.js";
import { makeDemoBids, REPO, runCli, STANDIN, tempDir } from "../../helpers/cli.js";

/** The README's "Exit codes" table as [code, meaning] rows, markdown kept as written. */
function readmeExitCodes(): { code: number; meaning: string }[] {
  const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
  const section = /^## Exit codes\n([\s\S]*?)(?=^## )/m.exec(readme);
  if (!section) throw new Error('README.md has no "## Exit codes" section');
  const rows = section[1]!.split("\n").filter((l) => l.startsWith("|"));
  expect(rows[0]).toMatch(/^\|\s*code\s*\|\s*meaning\s*\|$/);
  expect(rows[1]).toMatch(/^\|[-| ]+\|$/);
  return rows.slice(2).map((row) => {
    const m = /^\|\s*(\d+)\s*\|\s*(.*?)\s*\|$/.exec(row);
    if (!m) throw new Error(`README exit-code row not understood: ${row}`);
    return { code: Number(m[1]), meaning: m[2]! };
  });
}

/** The README's "Failure categories" table as rows of cells (header first), markdown kept as written. */
function readmeFailureTable(): string[][] {
  const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
  const section = /^## Failure categories\n([\s\S]*?)(?=^## )/m.exec(readme);
  if (!section) throw new Error('README.md has no "## Failure categories" section');
  const rows = section[1]!.split("\n").filter((l) => l.startsWith("|"));
  expect(rows[1]).toMatch(/^\|[-| ]+\|$/);
  return [rows[0]!, ...rows.slice(2)].map((row) => row.slice(2, -2).split(" | "));
}

/**
 * The "Exit codes:" block of a --help text as [code, meaning] entries (wrapped meanings joined),
 * and the help text without it.
 */
function helpExitCodes(help: string): { entries: { code: number; meaning: string }[]; rest: string } {
  const lines = help.split("\n");
  const start = lines.indexOf("Exit codes:");
  if (start < 0) return { entries: [], rest: help };
  const entries: { code: number; meaning: string }[] = [];
  let end = start + 1;
  for (; end < lines.length; end++) {
    const line = lines[end]!;
    const head = /^\s+(\d+)  (\S.*)$/.exec(line);
    if (head) entries.push({ code: Number(head[1]), meaning: head[2]! });
    else if (/^\s{4,}\S/.test(line) && entries.length > 0) entries[entries.length - 1]!.meaning += ` ${line.trim()}`;
    else break;
  }
  return { entries, rest: [...lines.slice(0, start), ...lines.slice(end)].join("\n") };
}

/** Every command and subcommand with a --help. */
const COMMANDS: string[][] = [[], ["plan"], ["manifest"], ["manifest", "init"], ["submit"], ["run-one"], ["collect"], ["status"], ["resubmit"], ["completion"]];

describe("exit codes: the README's table, the library's table and every --help agree", () => {
  it("the README's table lists exactly EXIT_CODES (src/errors.ts), in order, with the same meanings", () => {
    expect(readmeExitCodes()).toEqual(EXIT_CODES.map((e) => ({ code: e.code, meaning: e.meaning })));
  });

  it("EXIT_CODES gives a meaning to every EXIT value and to nothing else", () => {
    expect(EXIT_CODES.map((e) => e.code).sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
    expect(new Set(EXIT_CODES.map((e) => e.code)).size).toBe(EXIT_CODES.length);
  });

  it("the meaning of each failure category's exit code names that category", () => {
    for (const category of FAILURE_CATEGORIES) {
      const code = failureEntry(category).exitCode;
      const meaning = EXIT_CODES.find((e) => e.code === code)!.meaning;
      expect(meaning, `${category} -> exit ${code}`).toMatch(category === "SYSTEM" ? /system problem/ : new RegExp(`\\b${category}\\b`));
    }
  });

  for (const command of COMMANDS) {
    const name = ["cst-batch", ...command].join(" ");
    it(`\`${name} --help\` lists exit codes from the table, with the table's meanings, and no other exit number`, () => {
      const r = runCli([...command, "--help"]);
      expect(r.code).toBe(EXIT.OK);
      const { entries, rest } = helpExitCodes(r.stdout);
      expect(entries.length, `${name} --help has an "Exit codes:" block`).toBeGreaterThan(0);
      for (const e of entries) {
        const known = EXIT_CODES.find((x) => x.code === e.code);
        expect(known, `${name}: exit code ${e.code} is not in EXIT_CODES`).toBeDefined();
        expect(e.meaning, `${name}: exit code ${e.code}`).toBe(known!.meaning);
      }
      expect(entries.map((e) => e.code)).toContain(EXIT.OK);
      // Outside the block, no hard-coded exit numbers ("exit 3", "exits 75", "Exit codes: 0 ...").
      expect(rest).not.toMatch(/\bexit(s|ed)?(\s+(code|status)s?)?:?\s+\d/i);
    });
  }

  it("the top-level --help lists every exit code", () => {
    const { entries } = helpExitCodes(runCli(["--help"]).stdout);
    expect(entries.map((e) => e.code)).toEqual(EXIT_CODES.map((e) => e.code));
  });
});

describe("failure categories: the README's table is the catalogue's (src/failures/catalogue.ts)", () => {
  // To update the README after changing the catalogue: npm run build, then
  // node -e 'import("./dist/failures/table.js").then((m) => console.log(m.failureTableMarkdown()))'
  it("lists every category, in order, with the catalogue's exit code, meaning, aliases, factor, evidence and next step", () => {
    const [header, ...rows] = readmeFailureTable();
    expect(header).toEqual([...FAILURE_TABLE_HEADER]);
    expect(rows).toEqual(failureTableRows());
    expect(rows.map((r) => r[0])).toEqual(FAILURE_ENTRIES.map((e) => e.category));
  });

  it("each category's exit code is a row of the README's exit-code table whose meaning names the category", () => {
    const exitTable = readmeExitCodes();
    for (const [category, code] of readmeFailureTable().slice(1)) {
      const row = exitTable.find((r) => r.code === Number(code));
      expect(row, `${category}: exit ${code} is in the README's exit-code table`).toBeDefined();
      expect(row!.meaning, `${category} -> exit ${code}`).toMatch(category === "SYSTEM" ? /system problem/ : new RegExp(`\\b${category}\\b`));
    }
  });
});

describe("an invalid manifest is one exit code everywhere: the README's", () => {
  const invalidManifestCode = (): number => {
    const rows = readmeExitCodes().filter((r) => /invalid manifest/.test(r.meaning));
    expect(rows).toHaveLength(1);
    return rows[0]!.code;
  };

  it("the README's row for an invalid manifest is the code the library gives a manifest problem", () => {
    const code = invalidManifestCode();
    expect(code).toBe(EXIT.USAGE);
    expect(exitCodeForProblems([problem("error", "manifest", "manifest m.json is not valid JSON", "fix it")])).toBe(code);
    // A manifest problem decides even among preflight findings.
    expect(exitCodeForProblems([problem("error", "input", "x missing", "fix"), problem("error", "manifest", "bad", "fix")])).toBe(code);
    // Other findings stay preflight's; warnings decide nothing.
    for (const category of PROBLEM_CATEGORIES.filter((c) => c !== "manifest" && c !== "request")) {
      expect(exitCodeForProblems([problem("error", category, "x", "fix")]), category).toBe(EXIT.PREFLIGHT);
    }
    expect(exitCodeForProblems([problem("warning", "manifest", "x", "fix"), problem("error", "input", "x", "fix")])).toBe(EXIT.PREFLIGHT);
  });

  it("plan and submit (local, dry run, slurm dry run) exit with it for a missing, unparsable or ill-shaped manifest; a missing input file stays preflight's 3", () => {
    const code = invalidManifestCode();
    const dir = tempDir("cst-exit-docs-");
    const bids = makeDemoBids(path.join(dir, "bids"));
    const nifti = path.join(bids, "sub-02", "dwi", "sub-02_dwi.nii.gz");
    const manifests: Record<string, string> = {
      "not JSON": "{ subjects: [",
      "unknown key": JSON.stringify({ subjects: [{ id: "sub-02", nifty: nifti }] }),
      "no subjects": JSON.stringify({ name: "x" }),
    };
    const out = path.join(dir, "out");
    mkdirSync(path.join(dir, "m"));
    const files = Object.entries(manifests).map(([what, text]) => {
      const file = path.join(dir, "m", `${what.replace(/ /g, "-")}.json`);
      writeFileSync(file, text);
      return [what, file] as const;
    });
    files.push(["missing", path.join(dir, "m", "nope.json")]);
    const commands = (file: string): string[][] => [
      ["plan", "--manifest", file, "--out", out, "--csttool", STANDIN],
      ["plan", "--manifest", file, "--out", out, "--csttool", STANDIN, "--json"],
      ["submit", "--scheduler", "local", "--manifest", file, "--out", out, "--csttool", STANDIN],
      ["submit", "--scheduler", "local", "--dry-run", "--manifest", file, "--out", out, "--csttool", STANDIN],
      ["submit", "--scheduler", "slurm", "--dry-run", "--time", "1h", "--no-profile", "--manifest", file, "--out", out, "--csttool", STANDIN],
    ];
    for (const [what, file] of files) {
      for (const args of commands(file)) expect(runCli(args).code, `${what}: ${args.slice(0, 3).join(" ")}`).toBe(code);
    }
    const missingInput = path.join(dir, "m", "missing-input.json");
    writeFileSync(missingInput, JSON.stringify({ subjects: [{ id: "sub-02", nifti: path.join(dir, "gone.nii.gz") }] }));
    for (const args of commands(missingInput)) expect(runCli(args).code, `missing input: ${args.slice(0, 3).join(" ")}`).toBe(EXIT.PREFLIGHT);
  });
});
