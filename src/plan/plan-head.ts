import fs from "node:fs";
import { PLAN_SCHEMA_VERSION, PlanHeaderSchema, type PlanHeader } from "../schemas/plan.js";
import { formatZodIssues } from "../util/read-json.js";
import { closeQuietly } from "../util/quiet-fs.js";

/**
 * What a plan file's first line says it is. A schema-2 plan's first line is its whole header;
 * anything else that starts a JSON document (a schema-1 plan is one pretty-printed object, `{`
 * alone on line 1) goes to the schema-1 reader, which reports every error of a whole document.
 */
export type PlanHead =
  | { kind: "v2"; header: PlanHeader; headerEnd: number; size: number }
  | { kind: "v1" }
  | { kind: "newer"; version: number }
  | { kind: "damaged"; reason: string };

const CHUNK = 64 * 1024;
/** A header line longer than this (a skipped list of ~100,000 subjects) is not looked for. */
const MAX_HEADER = 64 * 1024 * 1024;

/** The parsed first line of a plan file; null when the file cannot be opened (the caller says why). */
export function readFirstLine(file: string): PlanHead | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return null;
  }
  try {
    return readFirstLineOf(fd);
  } finally {
    closeQuietly(fd);
  }
}

/** The parsed first line of the plan open at `fd` (run-one reads its task through the same descriptor). */
export function readFirstLineOf(fd: number): PlanHead {
  try {
    const size = fs.fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let read = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK * 2 ** chunks.length, MAX_HEADER));
      const n = fs.readSync(fd, buf, 0, buf.length, read);
      const nl = buf.subarray(0, n).indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(buf.subarray(0, nl));
        return parseHead(Buffer.concat(chunks).toString("utf8"), read + nl + 1, size);
      }
      chunks.push(buf.subarray(0, n));
      read += n;
      if (n === 0 || read >= MAX_HEADER) return parseHead(Buffer.concat(chunks).toString("utf8"), -1, size);
    }
  } catch (e) {
    return { kind: "damaged", reason: `cannot be read: ${(e as Error).message}` };
  }
}

/** Decide from the first line's text; `headerEnd` -1 when the file has no newline. */
export function parseHead(text: string, headerEnd: number, size: number): PlanHead {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: "v1" };
  }
  const version = (raw as { schema_version?: unknown } | null)?.schema_version;
  if (typeof version === "number" && version > PLAN_SCHEMA_VERSION) return { kind: "newer", version };
  if (version !== PLAN_SCHEMA_VERSION) return { kind: "v1" };
  if (headerEnd < 0) return { kind: "damaged", reason: "its header line does not end (the file was cut short?)" };
  const header = PlanHeaderSchema.safeParse(raw);
  if (!header.success) return { kind: "damaged", reason: `header: ${formatZodIssues(header.error).slice(0, 5).join("; ")}` };
  return { kind: "v2", header: header.data, headerEnd, size };
}
