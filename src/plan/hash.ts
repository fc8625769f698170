import crypto, { createHash } from "node:crypto";
import type { CsttoolOptions } from "../schemas/options.js";
import type { TaskInput } from "../schemas/records.js";
import { CompactNiftiInput } from "./compact-input.js";

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      const v: unknown = value[i];
      out += v === undefined ? "null" : canonicalJson(v);
    }
    return out + "]";
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = "{";
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += JSON.stringify(k) + ":" + canonicalJson(v);
  }
  return out + "}";
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * What makes a task's result: its options, its input (kind, paths, size/mtime identity, series)
 * and the csttool version. Not the output path, not the time. The payload is built with its keys
 * already sorted at every level, so JSON.stringify gives its canonical JSON (10,000 tasks hash
 * in a few milliseconds; a test checks it equals canonicalJson).
 */
export function configHashPayload(options: CsttoolOptions, input: TaskInput, csttoolVersion: string): unknown {
  const sortedOptions: Record<string, unknown> = {};
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o).sort()) if (o[k] !== undefined) sortedOptions[k] = o[k];
  const inputPart =
    input.kind === "nifti"
      ? {
          bval: input.bval,
          bvec: input.bvec,
          identity: input.identity.map((f) => ({ mtime_ms: f.mtime_ms, path: f.path, size: f.size })),
          json: input.json,
          kind: input.kind,
          nifti: input.nifti,
        }
      : {
          detected_series_uid: input.series.series_uid,
          dicom_dir: input.dicom_dir,
          identity: { file_count: input.identity.file_count, newest_mtime_ms: input.identity.newest_mtime_ms, total_size: input.identity.total_size },
          kind: input.kind,
          series_uid: input.series_uid,
        };
  return { csttool_version: csttoolVersion, input: inputPart, options: sortedOptions };
}

export function configHash(options: CsttoolOptions, input: TaskInput, csttoolVersion: string): string {
  return `sha256:${sha256Hex(JSON.stringify(configHashPayload(options, input, csttoolVersion)))}`;
}

type OneShotHash = (algorithm: string, data: string, encoding: "hex") => string;
/** crypto.hash (Node >= 20.12): one call instead of a Hash object per task. */
const oneShot: OneShotHash | undefined = (crypto as unknown as { hash?: OneShotHash }).hash;

function sha256OfText(text: string): string {
  return oneShot ? oneShot("sha256", text, "hex") : sha256Hex(text);
}

function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : "null";
}

/**
 * configHash for many tasks of one csttool version (the planner's loop): the same hashes, made
 * faster. Each distinct options object is sorted and serialised once (tasks share them; the
 * objects must not change while the hasher is in use) and a NIfTI input's payload is written as
 * text directly, in the canonical key order configHashPayload gives (a test checks equality).
 */
export function configHasher(csttoolVersion: string): (options: CsttoolOptions, input: TaskInput) => string {
  // Weak: a caller hashing many tasks read back (each with its own options object) keeps none of them alive.
  const optionsJson = new WeakMap<CsttoolOptions, string>();
  const head = `{"csttool_version":${JSON.stringify(csttoolVersion)},"input":`;
  return (options, input) => {
    if (input.kind !== "nifti") return configHash(options, input, csttoolVersion);
    let o = optionsJson.get(options);
    if (o === undefined) {
      o = JSON.stringify((configHashPayload(options, input, csttoolVersion) as { options: unknown }).options);
      optionsJson.set(options, o);
    }
    let ids = "";
    let text: string;
    if (input instanceof CompactNiftiInput) {
      // The folder's JSON once, each file's name after it (no absolute path joined: ~2x faster).
      const p = input.parts();
      const dir = JSON.stringify(p.dirPrefix).slice(0, -1);
      const quoted = p.names.map((n) => dir + JSON.stringify(n).slice(1));
      for (let k = 0; k < quoted.length; k++) {
        if (k > 0) ids += ",";
        ids += `{"mtime_ms":${jsonNumber(p.mtimes[k] as number)},"path":${quoted[k] as string},"size":${jsonNumber(p.sizes[k] as number)}}`;
      }
      text = `${head}{"bval":${quoted[1] as string},"bvec":${quoted[2] as string},"identity":[${ids}],"json":${quoted[3] ?? "null"},"kind":"nifti","nifti":${quoted[0] as string}},"options":${o}}`;
    } else {
      for (const f of input.identity) {
        if (ids !== "") ids += ",";
        ids += `{"mtime_ms":${jsonNumber(f.mtime_ms)},"path":${JSON.stringify(f.path)},"size":${jsonNumber(f.size)}}`;
      }
      const json = input.json === null ? "null" : JSON.stringify(input.json);
      text = `${head}{"bval":${JSON.stringify(input.bval)},"bvec":${JSON.stringify(input.bvec)},"identity":[${ids}],"json":${json},"kind":"nifti","nifti":${JSON.stringify(input.nifti)}},"options":${o}}`;
    }
    return `sha256:${sha256OfText(text)}`;
  };
}
