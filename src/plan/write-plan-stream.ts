import { createHash } from "node:crypto";
import fs, { constants } from "node:fs";
import path from "node:path";
import { currentPlanPath, legacyCurrentPlanPath, planFilePath, planIndexPath, stateDir } from "../layout.js";
import { PLAN_SCHEMA_VERSION, type PlanHeader, type PlanTaskLine } from "../schemas/plan.js";
import { fsyncDirSync, writeFileAtomicSync } from "../util/atomic-write.js";
import { assertRealDirs, mkdirConfined } from "../util/confined-fs.js";
import { closeQuietly, rmQuietly } from "../util/quiet-fs.js";
import { randomHex } from "../util/random-hex.js";
import { taskLineEncoder } from "./plan-format.js";
import { encodePlanIndex } from "./plan-index.js";
import { readFirstLine } from "./plan-head.js";
import type { PlanDraft } from "./write-plan.js";

/**
 * Writing a plan in bounded memory (issue 21): each task line is encoded, hashed into the plan
 * id and written as it comes; nothing holds the study's lines. The same bytes and the same id as
 * serializePlan + writePlanFiles (src/plan/write-plan.ts): the id is the sha-256 of the header line
 * with an empty plan_id and created_at, then every task line. The header is written first with a
 * placeholder id of the id's length and rewritten in place once the id is known.
 *
 * Durability: one fsync of the immutable plan's bytes (once, not per piece) and one of its
 * folder after the rename: that is the file every submission points at. The current plan
 * (`plan.jsonl`) is a copy of it and the offsets files are not fsync'ed: after a crash a reader
 * checks what offsets point at (and reads the plan line by line when they do not match), and a
 * damaged current plan is reported as damaged, with a re-plan as the fix.
 */

const FLUSH = 1 << 20;
const ID_LENGTH = 16;

/** The header line (fixed key order: schema_version, kind, plan_id, created_at first), no newline. */
export function planHeaderLine(h: Omit<PlanHeader, "created_at">, createdAt: string): string {
  const { schema_version, kind, plan_id, ...rest } = h;
  return JSON.stringify({ schema_version, kind, plan_id, created_at: createdAt, ...rest });
}

export interface StreamedPlan {
  header: PlanHeader;
  /** The immutable plan file (where a real run writes it). */
  planPath: string;
  written: boolean;
}

type Base = Omit<PlanHeader, "created_at">;

function baseOf(draft: PlanDraft): Base {
  return { schema_version: PLAN_SCHEMA_VERSION, kind: "cst-batch-plan", plan_id: "", ...draft } as Base;
}

/** The plan id alone (a dry run): the lines are encoded and hashed, nothing is kept or written. */
export function planIdOf(draft: PlanDraft, tasks: Iterable<PlanTaskLine>): string {
  const base = baseOf(draft);
  const hash = createHash("sha256").update(planHeaderLine(base, "") + "\n");
  const encode = taskLineEncoder(draft.input_root);
  for (const task of tasks) hash.update(encode(task) + "\n");
  return hash.digest("hex").slice(0, ID_LENGTH);
}

/** Open a new temp file beside `file` (O_EXCL|O_NOFOLLOW: never an existing file or a link). */
function openTemp(file: string): { fd: number; tmp: string } {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomHex(6)}.tmp`);
  const fd = fs.openSync(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
  return { fd, tmp };
}

/** Writes the body (header placeholder + lines) to `fd`; returns the id, the line starts and the size. */
function writeBody(fd: number, draft: PlanDraft, tasks: Iterable<PlanTaskLine>, placeholderHead: string): { planId: string; starts: number[]; size: number } {
  const base = baseOf(draft);
  const hash = createHash("sha256").update(planHeaderLine(base, "") + "\n");
  const starts: number[] = [];
  // Lines are encoded straight into one buffer (its write says each line's size in bytes); a full
  // buffer is hashed and written. The header's placeholder is written but not hashed.
  const buf = Buffer.allocUnsafe(FLUSH);
  let used = 0;
  let pos = 0;
  const put = (bytes: Buffer): void => {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off, pos + off);
    pos += bytes.length;
  };
  const flush = (): void => {
    if (used === 0) return;
    // The same bytes hashed a chunk at a time give the same digest as line by line.
    const chunk = buf.subarray(0, used);
    hash.update(chunk);
    put(chunk);
    used = 0;
  };
  const head = Buffer.from(placeholderHead, "utf8");
  put(head);
  let at = head.length;
  const encode = taskLineEncoder(draft.input_root);
  for (const task of tasks) {
    const line = encode(task) + "\n";
    starts.push(at);
    // At most 3 bytes of UTF-8 for each UTF-16 unit: the line fits, or goes alone.
    if (used + line.length * 3 > buf.length) flush();
    if (line.length * 3 > buf.length) {
      const bytes = Buffer.from(line, "utf8");
      hash.update(bytes);
      put(bytes);
      at += bytes.length;
      continue;
    }
    const n = buf.write(line, used, "utf8");
    used += n;
    at += n;
  }
  flush();
  return { planId: hash.digest("hex").slice(0, ID_LENGTH), starts, size: at };
}

/** Rewrites the header in place (same length), or the whole file with the new header (moving every line). */
function putHeader(fd: number, tmp: string, head: string, oldHeadLength: number, starts: number[], size: number): { fd: number; tmp: string; size: number } {
  const buf = Buffer.from(head, "utf8");
  if (buf.length === oldHeadLength) {
    fs.writeSync(fd, buf, 0, buf.length, 0);
    return { fd, tmp, size };
  }
  // Another length (a created_at kept from an existing plan in another form): copy the lines after the new header.
  const next = openTemp(tmp.replace(/\.[0-9a-f]+\.tmp$/, ""));
  try {
    fs.writeSync(next.fd, buf, 0, buf.length, 0);
    const chunk = Buffer.allocUnsafe(FLUSH);
    let from = oldHeadLength;
    let to = buf.length;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, from);
      if (n === 0) break;
      fs.writeSync(next.fd, chunk, 0, n, to);
      from += n;
      to += n;
    }
  } catch (e) {
    closeQuietly(next.fd);
    rmQuietly(next.tmp);
    throw e;
  }
  closeQuietly(fd);
  rmQuietly(tmp);
  const delta = buf.length - oldHeadLength;
  for (let k = 0; k < starts.length; k++) starts[k] = (starts[k] as number) + delta;
  return { fd: next.fd, tmp: next.tmp, size: size + delta };
}

/**
 * Write the plan of `draft` and `tasks` (in index order, iterated once): `plans/<plan_id>.jsonl`
 * (only when not already there: it is immutable, and an existing one keeps its created_at) with
 * its offsets, then the current plan `plan.jsonl` / `plan.idx` (a copy, never a link: see
 * writePlanFiles). A study's schema-1 `plan.json` and `plan.refs.json` are removed.
 */
export function writePlanStream(out: string, draft: PlanDraft, tasks: Iterable<PlanTaskLine>, now: Date): StreamedPlan {
  const current = currentPlanPath(out);
  const plans = path.dirname(planFilePath(out, "x"));
  mkdirConfined(out, stateDir(out));
  mkdirConfined(out, plans);
  assertRealDirs(out, plans);
  const placeholderAt = now.toISOString();
  const placeholderHead = planHeaderLine({ ...baseOf(draft), plan_id: "0".repeat(ID_LENGTH) }, placeholderAt) + "\n";
  let { fd, tmp } = openTemp(path.join(plans, "plan.jsonl"));
  let open = true;
  let moved = false;
  try {
    const body = writeBody(fd, draft, tasks, placeholderHead);
    const planPath = planFilePath(out, body.planId);
    const existing = readFirstLine(planPath);
    const previousAt = existing?.kind === "v2" && existing.header.plan_id === body.planId ? existing.header.created_at : null;
    const createdAt = previousAt ?? placeholderAt;
    const header = { ...baseOf(draft), plan_id: body.planId, created_at: createdAt } as PlanHeader;
    const put = putHeader(fd, tmp, planHeaderLine({ ...baseOf(draft), plan_id: body.planId }, createdAt) + "\n", Buffer.byteLength(placeholderHead), body.starts, body.size);
    fd = put.fd;
    tmp = put.tmp;
    const index = encodePlanIndex(body.starts, put.size);
    // Same id, same created_at and same size: the immutable file already holds exactly these bytes.
    const intact = previousAt !== null && existing?.kind === "v2" && existing.size === put.size && fs.existsSync(planIndexPath(planPath));
    if (!intact) fs.fsyncSync(fd);
    fs.closeSync(fd);
    open = false;
    let source = tmp;
    if (!intact) {
      writeFileAtomicSync(planIndexPath(planPath), index, { root: out, durable: false });
      fs.renameSync(tmp, planPath);
      moved = true;
      fsyncDirSync(plans);
      source = planPath;
    }
    // The current plan: a copy of the immutable one (or the new file itself when that one is intact), not fsync'ed.
    writeFileAtomicSync(planIndexPath(current), index, { root: out, durable: false });
    if (intact) {
      fs.renameSync(tmp, current);
      moved = true;
    } else {
      const copy = path.join(path.dirname(current), `.${path.basename(current)}.${randomHex(6)}.tmp`);
      try {
        fs.copyFileSync(source, copy, fs.constants.COPYFILE_EXCL);
        fs.renameSync(copy, current);
      } catch (e) {
        rmQuietly(copy);
        throw e;
      }
    }
    rmQuietly(legacyCurrentPlanPath(out));
    rmQuietly(path.join(path.dirname(current), "plan.refs.json"));
    return { header, planPath, written: true };
  } finally {
    if (open) closeQuietly(fd);
    if (!moved) rmQuietly(tmp);
  }
}
