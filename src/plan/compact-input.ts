import path from "node:path";
import type { FileIdentity, TaskInput } from "../schemas/records.js";

/**
 * A NIfTI input held compactly while a study is planned (issue 21: 200,000 tasks in bounded
 * memory). The plain form holds four absolute paths (each twice: as a field and in `identity`),
 * an identity array of four objects and an entities object: ~1 KB a task. This one holds the
 * folder (shared with the entry's origin), the NIfTI file name and the sizes and mtimes, and
 * makes the paths and the identity when they are read (the same values, new objects each time):
 * ~250 bytes. `toJSON()` gives the plain form; `plainInput` turns it back into one for code
 * outside the planner.
 */

type NiftiInput = Extract<TaskInput, { kind: "nifti" }>;

const NO_ENTITIES: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The stats of the four files: NIfTI, .bval, .bvec, .json (size -1: no .json). */
export interface NiftiStats {
  sizes: readonly [number, number, number, number];
  mtimes: readonly [number, number, number, number];
}

export class CompactNiftiInput {
  readonly kind = "nifti" as const;
  private readonly dir: string;
  private readonly name: string;
  private readonly ext: number;
  private readonly ent: Record<string, string> | null;
  private readonly s0: number;
  private readonly s1: number;
  private readonly s2: number;
  private readonly s3: number;
  private m0: number;
  private m1: number;
  private m2: number;
  private m3: number;

  /** `dir`: the NIfTI's folder (absolute, normalised); `name` its file name, `.nii` or `.nii.gz`. */
  constructor(dir: string, name: string, entities: Record<string, string>, stats: NiftiStats) {
    this.dir = dir;
    this.name = name;
    this.ext = name.endsWith(".nii.gz") ? 7 : 4;
    this.ent = Object.keys(entities).length === 0 ? null : entities;
    [this.s0, this.s1, this.s2, this.s3] = stats.sizes;
    [this.m0, this.m1, this.m2, this.m3] = stats.mtimes;
  }

  private file(name: string): string {
    return this.dir.endsWith(path.sep) ? this.dir + name : this.dir + path.sep + name;
  }

  private stem(): string {
    return this.name.slice(0, this.name.length - this.ext);
  }

  /** The folder of the four files. */
  get folder(): string {
    return this.dir;
  }

  /** Whether there is a .json sidecar. */
  get hasJson(): boolean {
    return this.s3 >= 0;
  }

  get nifti(): string {
    return this.file(this.name);
  }

  get bval(): string {
    return this.file(`${this.stem()}.bval`);
  }

  get bvec(): string {
    return this.file(`${this.stem()}.bvec`);
  }

  get json(): string | null {
    return this.s3 < 0 ? null : this.file(`${this.stem()}.json`);
  }

  get entities(): Record<string, string> {
    return this.ent ?? NO_ENTITIES;
  }

  get identity(): FileIdentity[] {
    const stem = this.stem();
    const ids: FileIdentity[] = [
      { path: this.file(this.name), size: this.s0, mtime_ms: this.m0 },
      { path: this.file(`${stem}.bval`), size: this.s1, mtime_ms: this.m1 },
      { path: this.file(`${stem}.bvec`), size: this.s2, mtime_ms: this.m2 },
    ];
    if (this.s3 >= 0) ids.push({ path: this.file(`${stem}.json`), size: this.s3, mtime_ms: this.m3 });
    return ids;
  }

  /**
   * What the planner's fast encoders write from, no path joined: the folder with its trailing
   * separator, the file names (NIfTI, .bval, .bvec, then .json when there is one), their sizes and mtimes.
   */
  parts(): { dirPrefix: string; names: string[]; sizes: number[]; mtimes: number[] } {
    const stem = this.stem();
    const dirPrefix = this.dir.endsWith(path.sep) ? this.dir : this.dir + path.sep;
    if (this.s3 < 0) return { dirPrefix, names: [this.name, `${stem}.bval`, `${stem}.bvec`], sizes: [this.s0, this.s1, this.s2], mtimes: [this.m0, this.m1, this.m2] };
    return { dirPrefix, names: [this.name, `${stem}.bval`, `${stem}.bvec`, `${stem}.json`], sizes: [this.s0, this.s1, this.s2, this.s3], mtimes: [this.m0, this.m1, this.m2, this.m3] };
  }

  /**
   * Set the mtimes (NIfTI, .bval, .bvec, .json) in place: a task kept as planned before after a
   * touch (src/plan/content-hash.ts) takes back its earlier mtimes without a second object.
   */
  setMtimes(mtimes: readonly number[]): void {
    this.m0 = mtimes[0]!;
    this.m1 = mtimes[1]!;
    this.m2 = mtimes[2]!;
    if (this.s3 >= 0) this.m3 = mtimes[3]!;
  }

  /** The input files' total size. */
  get bytes(): number {
    return this.s0 + this.s1 + this.s2 + Math.max(0, this.s3);
  }

  /** Whether `other` holds the same input (same files, entities, sizes and mtimes): it can stand for this one. */
  sameAs(other: CompactNiftiInput): boolean {
    return (
      this.dir === other.dir &&
      this.name === other.name &&
      this.s0 === other.s0 &&
      this.s1 === other.s1 &&
      this.s2 === other.s2 &&
      this.s3 === other.s3 &&
      this.m0 === other.m0 &&
      this.m1 === other.m1 &&
      this.m2 === other.m2 &&
      this.m3 === other.m3 &&
      (this.ent === other.ent || JSON.stringify(this.ent) === JSON.stringify(other.ent))
    );
  }

  toJSON(): NiftiInput {
    return { kind: "nifti", nifti: this.nifti, bval: this.bval, bvec: this.bvec, json: this.json, entities: { ...this.entities }, identity: this.identity };
  }
}

/** A plain (JSON) input, whichever form it is held in. */
export function plainInput(input: TaskInput): TaskInput {
  return input instanceof CompactNiftiInput ? input.toJSON() : input;
}

/**
 * A plain NIfTI input in the compact form when it has the shape the planner makes (the .bval,
 * .bvec and .json beside the NIfTI with its stem, identity in that order); else unchanged.
 */
export function compactInput(input: TaskInput): TaskInput {
  if (input.kind !== "nifti" || input instanceof CompactNiftiInput) return input;
  const dir = path.dirname(input.nifti);
  const name = path.basename(input.nifti);
  const ext = name.endsWith(".nii.gz") ? 7 : name.endsWith(".nii") ? 4 : 0;
  if (ext === 0) return input;
  const stem = path.join(dir, name.slice(0, name.length - ext));
  const id = input.identity;
  const json = input.json;
  const expected = [input.nifti, `${stem}.bval`, `${stem}.bvec`, ...(json === null ? [] : [`${stem}.json`])];
  if (input.bval !== expected[1] || input.bvec !== expected[2] || (json !== null && json !== expected[3])) return input;
  if (id.length !== expected.length || id.some((f, k) => f.path !== expected[k])) return input;
  const at = (k: number): FileIdentity | undefined => id[k];
  const compact = new CompactNiftiInput(dir, name, input.entities, {
    sizes: [at(0)!.size, at(1)!.size, at(2)!.size, json === null ? -1 : at(3)!.size],
    mtimes: [at(0)!.mtime_ms, at(1)!.mtime_ms, at(2)!.mtime_ms, json === null ? 0 : at(3)!.mtime_ms],
  });
  // Only when the paths come back exactly (a path not normalised keeps the plain form).
  return compact.nifti === input.nifti ? compact : input;
}
