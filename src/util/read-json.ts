import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import type * as z from "../schemas/zod.js";
import { CstError, errnoCode } from "../errors.js";
import { SCHEMA_VERSION } from "../schemas/records.js";

/** Outcome of reading a state file: a value, not an exception. */
export type ReadResult<T> =
  | { kind: "ok"; value: T }
  | { kind: "missing" }
  | { kind: "corrupt"; path: string; reason: string }
  | { kind: "newer"; path: string; found: number };

/**
 * Python's json.dump writes NaN / Infinity / -Infinity as bare tokens; turn them into null.
 * The same text inside strings is left alone. Text without the tokens goes straight to JSON.parse;
 * otherwise one pass copies it with the tokens outside strings replaced (no failed parse first:
 * collect reads thousands of these files).
 */
export function parseJsonLenient(text: string): unknown {
  if (!text.includes("NaN") && !text.includes("Infinity")) return JSON.parse(text);
  let fixed = "";
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      i++;
      while (i < text.length) {
        const c = text.charCodeAt(i);
        if (c === 0x5c /* \ */) i += 2;
        else if (c === 0x22) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    const token = ch === 0x4e /* N */ ? "NaN" : ch === 0x49 /* I */ ? "Infinity" : ch === 0x2d /* - */ ? "-Infinity" : null;
    if (token !== null && text.startsWith(token, i)) {
      fixed += text.slice(copied, i) + "null";
      i += token.length;
      copied = i;
      continue;
    }
    i++;
  }
  return JSON.parse(copied === 0 ? text : fixed + text.slice(copied));
}

export function formatZodIssues(error: z.core.$ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
}

/** One buffer for the sync reads of small files (state records, metrics JSON: a few KB each). */
const SMALL_READ = 16 * 1024;
const smallReadBuf = Buffer.allocUnsafe(SMALL_READ);

/**
 * A UTF-8 file, read with blocking calls: one that fits the shared buffer with open + read +
 * close (no fstat, no allocation: status and collect read 10,000 of these), a larger one whole.
 */
export function readTextSync(file: string): string {
  const fd = openSync(file, "r");
  try {
    const n = readSync(fd, smallReadBuf, 0, SMALL_READ, 0);
    if (n < SMALL_READ) return smallReadBuf.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
  return readFileSync(file, "utf8");
}

/**
 * Read and validate a state file written by cst-batch (schema_version checked first). A blocking
 * read: state files are small and read one at a time (see writeFileAtomicSync).
 */
export function readStateFileSync<T>(file: string, schema: z.ZodMiniType<T>): ReadResult<T> {
  let text: string;
  try {
    text = readTextSync(file);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return { kind: "missing" };
    return { kind: "corrupt", path: file, reason: `cannot read: ${(e as Error).message}` };
  }
  return parseStateText(file, text, schema);
}

export async function readStateFile<T>(file: string, schema: z.ZodMiniType<T>): Promise<ReadResult<T>> {
  return readStateFileSync(file, schema);
}

export function parseStateText<T>(file: string, text: string, schema: z.ZodMiniType<T>): ReadResult<T> {
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
