import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";

/**
 * Every entry under `root` (files by content hash and mode, folders, links by target), sorted:
 * two snapshots are equal only when nothing under `root` was created, removed or changed.
 * A missing root is an empty snapshot.
 */
export function treeSnapshot(root: string): string[] {
  const lines: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) lines.push(`link ${rel} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        lines.push(`dir  ${rel} ${(st.mode & 0o7777).toString(8)}`);
        walk(p);
      } else lines.push(`file ${rel} ${(st.mode & 0o7777).toString(8)} ${createHash("sha256").update(readFileSync(p)).digest("hex")} ${st.mtimeMs}`);
    }
  };
  walk(root);
  return lines;
}
