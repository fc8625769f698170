import { promises as fsp } from "node:fs";
import type { z } from "zod";
import { CstError, errnoCode } from "../errors.js";
import { SCHEMA_VERSION } from "../schemas/records.js";

/** Outcome of reading a state file: a value, not an exception. */
export type ReadResult<T> =
  | { kind: "ok"; value: T }
  | { kind: "missing" }
  | { kind: "corrupt"; path: string; reason: string }
  | { kind: "newer"; path: string; found: number };

/** Python's json.dump writes NaN / Infinity / -Infinity as bare tokens; turn them into null. */
export function parseJsonLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const fixed = text.replace(
      /("(?:[^"\\]|\\.)*")|(-?Infinity|NaN)/g,
      (_m, str: string | undefined) => (str !== undefined ? str : "null"),
    );
    return JSON.parse(fixed);
  }
}

export function formatZodIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
}

/** Read and validate a state file written by cst-batch (schema_version checked first). */
export async function readStateFile<T>(file: string, schema: z.ZodType<T>): Promise<ReadResult<T>> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return { kind: "missing" };
    return { kind: "corrupt", path: file, reason: `cannot read: ${(e as Error).message}` };
  }
  return parseStateText(file, text, schema);
}

export function parseStateText<T>(file: string, text: string, schema: z.ZodType<T>): ReadResult<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { kind: "corrupt", path: file, reason: `not valid JSON (${(e as Error).message})` };
  }
  const version = (raw as { schema_version?: unknown } | null)?.schema_version;
  if (typeof version === "number" && version > SCHEMA_VERSION) return { kind: "newer", path: file, found: version };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { kind: "corrupt", path: file, reason: formatZodIssues(parsed.error).slice(0, 5).join("; ") };
  return { kind: "ok", value: parsed.data };
}

/** For files a command cannot do without (plan, manifest): a ReadResult turned into a CstError. */
export function requireState<T>(result: ReadResult<T>, file: string, what: string, fix: string): T {
  switch (result.kind) {
    case "ok":
      return result.value;
    case "missing":
      throw new CstError("INVALID_INPUT", `${what} not found: ${file}`, { hint: fix });
    case "corrupt":
      throw new CstError("CORRUPT_STATE", `${what} ${file} is damaged: ${result.reason}`, { hint: fix });
    case "newer":
      throw new CstError(
        "NEWER_SCHEMA",
        `${what} ${file} has schema_version ${result.found}, newer than this cst-batch understands (${SCHEMA_VERSION})`,
        { hint: "upgrade cst-batch, or re-create the file with this version" },
      );
  }
}
