import type { CsttoolOptions } from "../schemas/options.js";
import type { SkippedSubject, TaskInput } from "../schemas/records.js";
import type { Problem } from "./problems.js";

/** One subject/session found by discovery or listed in a manifest, with its checked input. */
export interface SourceEntry {
  subject: string;
  session: string | null;
  input: TaskInput;
  /** The subject's own option layer (manifest `subjects[i].options`); `{}` for BIDS. */
  options: CsttoolOptions;
  /** Where the entry came from, for messages: a folder or `subjects[3]`. */
  origin: string;
  /**
   * BIDS: every folder from the BIDS root down to the input's folder is a folder, not a
   * symbolic link, so the input folder's real path is the root's real path and the same relative
   * path (src/plan/overlap.ts needs no realpath for it). Absent: not known.
   */
  noLinks?: boolean;
}

/** What a source (BIDS folder or manifest) yields: entries, skipped subjects and problems. */
export interface SourceResult {
  entries: SourceEntry[];
  skipped: SkippedSubject[];
  problems: Problem[];
  /** Subject ids the --include/--exclude filter left out. */
  excluded?: string[];
}

/** Include/exclude globs on the subject id; an id matches a glob as `sub-001` or as `001`. */
export interface SubjectFilter {
  include: readonly string[];
  exclude: readonly string[];
}
