import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as z from "../schemas/zod.js";
import { CstError, errnoCode } from "../errors.js";
import { LSF_UNITS } from "../schedulers/types.js";

/**
 * A cluster profile: the defaults a site's users share (scheduler, partition, account, time,
 * setup lines, container, ...). Flags override it key by key. Every key is optional; unknown
 * keys are errors that name the valid ones (a typo must not silently drop a setting).
 */
const ResourceKeys = {
  /** Walltime per array task: `2h`, `90m`, `01:30:00` (no bare numbers). */
  time: z.optional(z.string().check(z.minLength(1))),
  /** Memory: `8G`, `500M`. */
  mem: z.optional(z.string().check(z.minLength(1))),
  cpus: z.optional(z.int().check(z.positive())),
  /** Slurm partition / PBS queue. */
  partition: z.optional(z.string().check(z.minLength(1))),
  account: z.optional(z.string().check(z.minLength(1))),
  qos: z.optional(z.string().check(z.minLength(1))),
  gres: z.optional(z.string().check(z.minLength(1))),
};

export const CollectProfileSchema = z.strictObject(ResourceKeys);

export const ProfileSchema = z.strictObject({
  /** Ignored by cst-batch; lets a profile point at its documentation. */
  $comment: z.optional(z.string()),
  scheduler: z.optional(z.enum(["slurm", "pbs", "torque", "local", "auto", "sge", "lsf"])),
  ...ResourceKeys,
  /** Same as `partition` (PBS wording); give one of the two. */
  queue: z.optional(z.string().check(z.minLength(1))),
  array_throttle: z.optional(z.int().check(z.positive())),
  max_array_size: z.optional(z.int().check(z.positive())),
  chunk_size: z.optional(z.int().check(z.positive())),
  job_name: z.optional(z.string().check(z.minLength(1))),
  setup: z.optional(z.array(z.string())),
  scheduler_args: z.optional(z.array(z.string())),
  container: z.optional(z.string().check(z.minLength(1))),
  container_runtime: z.optional(z.enum(["apptainer", "singularity"])),
  template_dir: z.optional(z.string().check(z.minLength(1))),
  /** Resources of the collect job (default 15m, 2G, 1 cpu; partition/account/qos follow the array's). */
  collect: z.optional(CollectProfileSchema),
  /** LSF: the site's `LSF_UNIT_FOR_LIMITS` (lsf.conf), the unit of `-M` / `rusage[mem=]`; absent: not set there (KB / MB). */
  lsf_unit_for_limits: z.optional(z.enum(LSF_UNITS)),
  /** `resubmit`'s retry policy: at most N attempts may end in a category (`{"TIMEOUT": 2}`); keys checked by resubmit. */
  retry: z.optional(z.record(z.string(), z.int().check(z.minimum(0)))),
  /** Grid Engine: the resource memory is requested as (h_vmem, mem_free, m_mem_free; default mem_free). */
  sge_memory_resource: z.optional(z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9_]*$/))),
  /** Grid Engine: the parallel environment for --cpus > 1 (`-pe <name> N`; `qconf -spl` lists them). */
  sge_pe: z.optional(z.string().check(z.minLength(1))),
});
export type Profile = z.infer<typeof ProfileSchema>;

export const PROFILE_KEYS = Object.keys(ProfileSchema.shape);
export const COLLECT_PROFILE_KEYS = Object.keys(CollectProfileSchema.shape);

/** `$XDG_CONFIG_HOME/cst-batch/profile.json`, else `~/.config/cst-batch/profile.json`. */
export function defaultProfilePath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME ?? os.homedir(), ".config");
  return path.join(base, "cst-batch", "profile.json");
}

export interface LoadedProfile {
  profile: Profile;
  /** Absolute path the profile came from; null when none was used. */
  path: string | null;
  /** Relative paths inside the profile (template_dir) are resolved against its folder. */
}

/** One readable line per zod issue; unknown keys list the valid ones. */
export function formatProfileIssues(error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.join(".") : "(top level)";
    if (issue.code === "unrecognized_keys") {
      const inCollect = issue.path[0] === "collect";
      const valid = inCollect ? COLLECT_PROFILE_KEYS : PROFILE_KEYS;
      return `${where}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")} (valid keys: ${valid.join(", ")})`;
    }
    return `${where}: ${issue.message}`;
  });
}

/** Validate profile JSON text; `file` names it in errors. */
export function parseProfile(text: string, file: string): Profile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CstError("USAGE", `profile ${file} is not valid JSON: ${(e as Error).message}`, { hint: "fix the file, or pass --no-profile to ignore it" });
  }
  const parsed = ProfileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CstError("USAGE", `profile ${file} is not valid`, {
      details: formatProfileIssues(parsed.error),
      hint: "fix the keys above (see examples/profiles/), or pass --no-profile to ignore it",
    });
  }
  const profile = parsed.data;
  if (profile.partition !== undefined && profile.queue !== undefined) {
    throw new CstError("USAGE", `profile ${file}: give "partition" or "queue", not both (they are the same setting)`);
  }
  for (const [i, line] of (profile.setup ?? []).entries()) {
    if (/[\r\n]/.test(line)) throw new CstError("USAGE", `profile ${file}: setup[${i}] holds a line break; give one line per entry`);
  }
  for (const [i, line] of (profile.scheduler_args ?? []).entries()) {
    if (/[\r\n]/.test(line)) throw new CstError("USAGE", `profile ${file}: scheduler_args[${i}] holds a line break; give one directive per entry`);
  }
  if (profile.template_dir !== undefined && !path.isAbsolute(profile.template_dir)) {
    profile.template_dir = path.resolve(path.dirname(file), profile.template_dir);
  }
  return profile;
}

/**
 * The profile to use: `explicit` (`--profile FILE`, must exist), else the default location when
 * a file is there, else none. `disabled` (`--no-profile`) skips the default location.
 */
export async function loadProfile(opts: { explicit?: string | null; disabled?: boolean; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<LoadedProfile> {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.explicit) {
    const file = path.resolve(cwd, opts.explicit);
    let text: string;
    try {
      text = await fsp.readFile(file, "utf8");
    } catch (e) {
      throw new CstError("USAGE", `cannot read the profile ${file}: ${errnoCode(e) ?? (e as Error).message}`, { hint: "check the --profile path" });
    }
    return { profile: parseProfile(text, file), path: file };
  }
  if (opts.disabled) return { profile: {}, path: null };
  const file = defaultProfilePath(opts.env);
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return { profile: {}, path: null };
    throw new CstError("USAGE", `cannot read the default profile ${file}: ${errnoCode(e) ?? (e as Error).message}`, { hint: "fix its permissions, or pass --no-profile" });
  }
  return { profile: parseProfile(text, file), path: file };
}
