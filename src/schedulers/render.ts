import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import type Handlebars from "handlebars";
import { CstError } from "../errors.js";
import { PACKAGE_ROOT } from "../version.js";
import { assertNoNul, assertSingleLine, lsfDirectiveQuote, shellQuote } from "../shell/shell-quote.js";

/** The packaged `templates/` folder (under the package root, from src/, dist/ and the bundles). */
export const PACKAGED_TEMPLATE_DIR = path.join(PACKAGE_ROOT, "templates") + path.sep;

/**
 * Helpers every template may use. A template never interpolates a raw value: each `{{...}}` goes
 * through one of these (a unit test scans the templates for that).
 *   q    shell-quote one value (strings; numbers printed as is)
 *   num  a non-negative integer, printed bare (throws otherwise)
 *   raw  a user line written verbatim (setup lines, `--scheduler-arg`): checked to be one line
 *   dq   a value on an LSF `#BSUB` line, in double quotes (see lsfDirectiveQuote in src/shell/)
 */
export const TEMPLATE_HELPERS = ["q", "num", "raw", "dq"] as const;

/**
 * Handlebars is loaded on the first render: status and collect import the scheduler backends
 * for their status parsers and never render a template.
 */
function loadHandlebars(): typeof Handlebars {
  return createRequire(import.meta.url)("handlebars") as typeof Handlebars;
}

function createHandlebars(): typeof Handlebars {
  const hb = loadHandlebars().create();
  hb.registerHelper("q", (value: unknown, options: Handlebars.HelperOptions) => {
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
    if (typeof value !== "string") throw helperTypeError("q", "a string", value, options);
    return shellQuote(value);
  });
  hb.registerHelper("num", (value: unknown, options: Handlebars.HelperOptions) => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw helperTypeError("num", "a non-negative integer", value, options);
    }
    return String(value);
  });
  hb.registerHelper("raw", (value: unknown, options: Handlebars.HelperOptions) => {
    if (typeof value !== "string") throw helperTypeError("raw", "a string", value, options);
    assertSingleLine(value, "a verbatim script line");
    return value;
  });
  hb.registerHelper("dq", (value: unknown, options: Handlebars.HelperOptions) => {
    if (typeof value !== "string") throw helperTypeError("dq", "a string", value, options);
    return lsfDirectiveQuote(value, "a #BSUB value");
  });
  return hb;
}

/** A helper got a value of the wrong type: usually a variable name the view does not have. */
function helperTypeError(helper: string, expected: string, value: unknown, options: Handlebars.HelperOptions): Error {
  const loc = (options as { loc?: { start?: { line?: number; column?: number } } }).loc?.start;
  const where = loc?.line !== undefined ? ` at line ${loc.line}, column ${loc.column ?? 0}` : "";
  const found = value === undefined ? "undefined (a variable the view does not have?)" : JSON.stringify(value);
  return new Error(`helper ${helper}${where} expects ${expected}, found ${found}`);
}

const compiled = new Map<string, HandlebarsTemplateDelegate>();

/** Partials: every `partials/*.hbs` of the packaged folder, overridden by the user's copies. */
function registerPartials(hb: typeof Handlebars, templateDir: string | undefined): void {
  const names = ["header", "preamble", "run-one", "collect"];
  for (const name of names) {
    hb.registerPartial(name, readTemplateSource(`partials/${name}.hbs`, templateDir));
  }
}

/** A template's text: the user's copy under `templateDir` when it exists, else the packaged one. */
export function readTemplateSource(relative: string, templateDir?: string): string {
  if (templateDir !== undefined) {
    const user = path.join(templateDir, relative);
    if (existsSync(user)) return readFileSync(user, "utf8");
  }
  const packaged = path.join(PACKAGED_TEMPLATE_DIR, relative);
  try {
    return readFileSync(packaged, "utf8");
  } catch (e) {
    throw new CstError("SYSTEM", `cannot read the packaged template ${packaged}`, { cause: e });
  }
}

/**
 * Render `relative` (e.g. `slurm/array.sh.hbs`) with `view`. Strict mode: a variable the view
 * lacks is an error, not an empty string; no HTML escaping (the `q` helper does shell quoting).
 */
export function renderTemplate(relative: string, view: Record<string, unknown>, templateDir?: string): string {
  const key = `${templateDir ?? ""}\0${relative}`;
  let template = compiled.get(key);
  if (!template) {
    const hb = createHandlebars();
    registerPartials(hb, templateDir);
    template = hb.compile(readTemplateSource(relative, templateDir), { noEscape: true, strict: true });
    compiled.set(key, template);
  }
  try {
    return template(view);
  } catch (e) {
    if (e instanceof CstError) throw e;
    throw new CstError("USAGE", `template ${relative}${templateDir ? ` (in ${templateDir})` : ""} failed to render: ${(e as Error).message}`, {
      cause: e,
      hint: "check the variables the template uses against templates/README.md",
    });
  }
}

/** Forget compiled templates (tests that rewrite a template folder). */
export function clearTemplateCache(): void {
  compiled.clear();
}

/** Check an absolute path that goes into a script (quoted there): absolute, no NUL. */
export function assertAbsolutePath(value: string, what: string): void {
  assertNoNul(value, what);
  if (!path.isAbsolute(value)) {
    throw new CstError("USAGE", `${what} must be an absolute path, found ${JSON.stringify(value)}`, {
      hint: "scheduler jobs do not start in the submit folder on every system; pass absolute paths",
    });
  }
}
