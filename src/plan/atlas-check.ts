import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CsttoolCapabilities } from "../schemas/records.js";
import { problem, type Problem } from "./problems.js";

/**
 * csttool's atlas data at plan time. csttool 0.5.x's extract step needs FSL's Harvard-Oxford
 * atlases (cortical and subcortical, 1 mm) in its data folder, fetched once with
 * `csttool fetch-data --accept-fsl-license`; without them (or with a corrupt one) every subject
 * runs for minutes, fails at extract and csttool still exits 0. So a real-csttool plan without
 * valid atlas files is an error (`--allow-missing-atlas`: a warning).
 *
 * Valid is decided as csttool does (csttool/data/loader.py `_validate_if_needed`): the file's
 * entry in `<data dir>/.validated` with the same size and mtime and `sha256_ok: true`, else the
 * file's SHA-256 equal to csttool's manifest (csttool/data/manifest.py).
 */

/** The atlas files csttool 0.5.x's extract step loads (warp_atlas_to_subject.py), with its manifest's checksums. */
export const ATLAS_FILES: readonly { key: string; label: string; sha256: string; size: number }[] = [
  {
    key: "harvard_oxford/HarvardOxford-cort-maxprob-thr25-1mm.nii.gz",
    label: "Harvard-Oxford cortical atlas (1mm)",
    sha256: "f71ecc19595ffc85e782dea04563e83c9eb73a7a60c415fb6660c23285200dc1",
    size: 138203,
  },
  {
    key: "harvard_oxford/HarvardOxford-sub-maxprob-thr25-1mm.nii.gz",
    label: "Harvard-Oxford subcortical atlas (1mm)",
    sha256: "5772ccce4a0444c9b29c071390db086b7bb0e2074662d2ccecc8c9820fff0fa7",
    size: 166519,
  },
];

export const ATLAS_FIX = "run `csttool fetch-data --accept-fsl-license` once (needs network; FSL non-commercial licence) on a node that shares this home";

/** The root of csttool's data folder: platformdirs' user data dir on Linux (`$XDG_DATA_HOME` or `~/.local/share`). */
export function userDataDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_DATA_HOME?.trim();
  if (xdg) return xdg;
  return path.join(env.HOME || os.homedir(), ".local", "share");
}

/** csttool's own data folder (`<user data dir>/csttool`). */
export function csttoolDataDir(env: NodeJS.ProcessEnv): string {
  return path.join(userDataDir(env), "csttool");
}

/** The executable's first line (a shebang), or null when unreadable or not a script. */
async function firstLine(executable: string): Promise<string | null> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(executable, "r");
    const buf = Buffer.alloc(256);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString("utf8").split("\n")[0] ?? "";
  } catch {
    return null;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Whether this is the real csttool (or a wrapper that execs it): a Python script, or any
 * executable except a Node script whose `csttool run --help` was argparse help (the Node
 * stand-in of the tests answers the same help; a minimal fake answers none).
 */
export async function isRealCsttool(executable: string, capabilities: CsttoolCapabilities | null): Promise<boolean> {
  const line = await firstLine(executable);
  if (line !== null && /^#!.*python/.test(line)) return true;
  if (line !== null && /^#!.*\bnode\b/.test(line)) return false;
  return capabilities?.probed === true;
}

interface StampEntry {
  size?: unknown;
  mtime?: unknown;
  sha256_ok?: unknown;
}

async function readStamp(dataDir: string): Promise<Record<string, StampEntry>> {
  try {
    const parsed: unknown = JSON.parse(await fsp.readFile(path.join(dataDir, ".validated"), "utf8"));
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, StampEntry>) : {};
  } catch {
    return {};
  }
}

/** Python's `os.stat().st_mtime` for this file (seconds as a double, as csttool stores it). */
async function pythonMtime(file: string): Promise<{ size: number; mtime: number }> {
  const st = await fsp.stat(file, { bigint: true });
  const sec = st.mtimeNs / 1_000_000_000n;
  const nsec = st.mtimeNs % 1_000_000_000n;
  return { size: Number(st.size), mtime: Number(sec) + Number(nsec) * 1e-9 };
}

async function sha256Of(file: string): Promise<string> {
  return createHash("sha256").update(await fsp.readFile(file)).digest("hex");
}

export type AtlasFileState = { key: string; file: string; label: string; state: "ok" | "missing" | "corrupt"; detail: string };

/** Each atlas file csttool's extract step needs, as csttool would find it. */
export async function inspectAtlas(env: NodeJS.ProcessEnv): Promise<AtlasFileState[]> {
  const dataDir = csttoolDataDir(env);
  const stamp = await readStamp(dataDir);
  const out: AtlasFileState[] = [];
  for (const a of ATLAS_FILES) {
    const file = path.join(dataDir, a.key);
    let st: { size: number; mtime: number };
    try {
      st = await pythonMtime(file);
    } catch {
      out.push({ key: a.key, file, label: a.label, state: "missing", detail: `${file} is missing` });
      continue;
    }
    const entry = stamp[file];
    if (entry && entry.sha256_ok === true && entry.size === st.size && entry.mtime === st.mtime) {
      out.push({ key: a.key, file, label: a.label, state: "ok", detail: "validated (csttool's stamp)" });
      continue;
    }
    let sum: string;
    try {
      sum = await sha256Of(file);
    } catch (e) {
      out.push({ key: a.key, file, label: a.label, state: "corrupt", detail: `${file} is unreadable (${(e as Error).message})` });
      continue;
    }
    if (sum === a.sha256) out.push({ key: a.key, file, label: a.label, state: "ok", detail: "checksum matches" });
    else {
      const size = st.size === a.size ? "" : `, ${st.size} bytes instead of ${a.size}`;
      out.push({ key: a.key, file, label: a.label, state: "corrupt", detail: `${file} fails csttool's checksum${size}` });
    }
  }
  return out;
}

/**
 * An error (a warning with `allowMissing`) when the real csttool's atlas data is missing or
 * corrupt: every subject would run for minutes and then fail at CST extraction.
 */
export async function checkCsttoolAtlas(
  executable: string,
  env: NodeJS.ProcessEnv,
  capabilities: CsttoolCapabilities | null,
  allowMissing: boolean,
): Promise<Problem[]> {
  if (!(await isRealCsttool(executable, capabilities))) return [];
  const bad = (await inspectAtlas(env)).filter((f) => f.state !== "ok");
  if (bad.length === 0) return [];
  const what = bad.map((f) => `${f.label}: ${f.detail}`).join("; ");
  const missing = bad.every((f) => f.state === "missing") ? "not installed" : "missing or corrupt";
  return [
    problem(
      allowMissing ? "warning" : "error",
      "csttool",
      `csttool's FSL atlas data is ${missing} (${what}); every subject would fail at CST extraction`,
      allowMissing ? ATLAS_FIX : `${ATLAS_FIX}; or plan anyway with --allow-missing-atlas`,
    ),
  ];
}
