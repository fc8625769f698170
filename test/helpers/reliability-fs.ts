import { promises as fsp, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import { isManagedName } from "../../src/run/promote.js";

/** File-system and process-table checks shared by the reliability families. */

export interface DoneCheck {
  /** "none": no `_done.json`; "ok": it parses and lists only present files of the right size. */
  kind: "none" | "ok" | "bad";
  record?: { config_hash: string; files: { path: string; size: number }[] };
  problems: string[];
}

/** If `_done.json` exists, every file it lists must exist with its size; a mix is a defect. */
export async function checkDone(taskDir: string): Promise<DoneCheck> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(taskDir, "_done.json"), "utf8");
  } catch {
    return { kind: "none", problems: [] };
  }
  let record: DoneCheck["record"];
  try {
    record = JSON.parse(text) as DoneCheck["record"];
  } catch (e) {
    return { kind: "bad", problems: [`_done.json does not parse: ${(e as Error).message}`] };
  }
  const problems: string[] = [];
  for (const f of record?.files ?? []) {
    try {
      const st = await fsp.lstat(path.join(taskDir, f.path));
      if (st.size !== f.size) problems.push(`${f.path}: size ${st.size}, _done.json says ${f.size}`);
    } catch {
      problems.push(`${f.path}: listed in _done.json but missing`);
    }
  }
  return { kind: problems.length ? "bad" : "ok", record, problems };
}

/** Top-level names of a subject folder that are results (not cst-batch's own). */
export async function visibleEntries(taskDir: string): Promise<string[]> {
  const names = await fsp.readdir(taskDir).catch(() => [] as string[]);
  return names.filter((n) => !isManagedName(n)).sort();
}

/** Top-level result names a done record implies. */
export function entriesOf(files: readonly { path: string }[]): string[] {
  return [...new Set(files.map((f) => f.path.split("/")[0]!))].sort();
}

export interface TreeEntry {
  type: "file" | "dir" | "link" | "other";
  size: number;
  mode: number;
  hash?: string;
  target?: string;
}

/** Every entry under `root` (relative path -> type, size, mode, content hash), symlinks not followed. */
export async function snapshotTree(root: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      const full = path.join(root, r);
      const st = await fsp.lstat(full).catch(() => null);
      if (!st) continue;
      if (st.isSymbolicLink()) out.set(r, { type: "link", size: st.size, mode: st.mode, target: await fsp.readlink(full) });
      else if (st.isDirectory()) {
        out.set(r, { type: "dir", size: 0, mode: st.mode });
        await walk(r);
      } else if (st.isFile()) {
        const hash = st.size <= 4 * 1024 * 1024 ? createHash("sha1").update(await fsp.readFile(full)).digest("hex") : `size:${st.size}`;
        out.set(r, { type: "file", size: st.size, mode: st.mode, hash });
      } else out.set(r, { type: "other", size: st.size, mode: st.mode });
    }
  };
  await walk("");
  return out;
}

/** Differences between two snapshots, as readable lines (empty: identical). */
export function diffTrees(before: Map<string, TreeEntry>, after: Map<string, TreeEntry>): string[] {
  const lines: string[] = [];
  for (const [k, v] of after) {
    const b = before.get(k);
    if (!b) lines.push(`added ${k}`);
    else if (b.type !== v.type || b.hash !== v.hash || b.target !== v.target || b.mode !== v.mode) lines.push(`changed ${k}`);
  }
  for (const k of before.keys()) if (!after.has(k)) lines.push(`removed ${k}`);
  return lines;
}

/** Process state letter from /proc (T = stopped), null when gone. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? null;
  } catch {
    return null;
  }
}

/** Wait until a process is stopped (SIGSTOP) or gone; resolves to its final state. */
export async function waitStoppedOrGone(pid: number, timeoutMs = 20_000): Promise<"stopped" | "gone"> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = procState(pid);
    if (s === null || s === "Z") return "gone";
    if (s === "T" || s === "t") return "stopped";
    if (Date.now() > deadline) throw new Error(`process ${pid} neither stopped nor exited within ${timeoutMs} ms (state ${s})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Does `text` look like a stack trace (Node's "    at fn (file:line)")? */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at /.test(text);
}
