import * as z from "./zod.js";
import { CsttoolOptionsSchema, type CsttoolOptions } from "./options.js";

/**
 * The study manifest (`--manifest FILE`, JSON or JSONC). Two spellings are accepted for two
 * keys, as csttool's own docs use them: `id` / `subject_id` and `options` / `global_options`.
 * Using both spellings at once is an error; any other key is an error that names it.
 *
 * The schema validates the shape only; ids are normalised and paths resolved by src/plan/manifest.ts.
 */
export const MANIFEST_SCHEMA_VERSION = 1 as const;

export const MANIFEST_KEYS = ["schema_version", "name", "description", "options", "global_options", "subjects"] as const;
export const MANIFEST_SUBJECT_KEYS = ["id", "subject_id", "session", "nifti", "dicom", "series_uid", "options"] as const;

const nonEmpty = z.string().check(z.minLength(1, "must not be empty"));

export const ManifestSubjectSchema = z
  .strictObject({
    id: z.optional(z.string()),
    subject_id: z.optional(z.string()),
    session: z.optional(z.nullable(z.string())),
    nifti: z.optional(nonEmpty),
    dicom: z.optional(nonEmpty),
    series_uid: z.optional(z.nullable(nonEmpty)),
    options: z.optional(CsttoolOptionsSchema),
  })
  .check(
    z.superRefine((s, ctx) => {
    if (s.id !== undefined && s.subject_id !== undefined) {
      ctx.addIssue({ code: "custom", path: ["subject_id"], message: 'use either "id" or "subject_id", not both' });
    } else if (s.id === undefined && s.subject_id === undefined) {
      ctx.addIssue({ code: "custom", path: ["id"], message: 'missing: every subject needs an "id" (or "subject_id")' });
    }
    if (s.nifti !== undefined && s.dicom !== undefined) {
      ctx.addIssue({ code: "custom", path: ["dicom"], message: 'give exactly one of "nifti" and "dicom", not both' });
    } else if (s.nifti === undefined && s.dicom === undefined) {
      ctx.addIssue({ code: "custom", path: ["nifti"], message: 'missing: give exactly one of "nifti" (a .nii/.nii.gz file) or "dicom" (a folder)' });
    }
    if (s.series_uid != null && s.dicom === undefined) {
      ctx.addIssue({ code: "custom", path: ["series_uid"], message: '"series_uid" only applies to a "dicom" subject' });
    }
    }),
  );
export type ManifestSubjectInput = z.infer<typeof ManifestSubjectSchema>;

/** The top level without the subject entries (they are validated one by one). */
export const ManifestHeaderSchema = z
  .strictObject({
    schema_version: z.optional(z.literal(MANIFEST_SCHEMA_VERSION)),
    name: z.optional(z.nullable(z.string())),
    description: z.optional(z.nullable(z.string())),
    options: z.optional(CsttoolOptionsSchema),
    global_options: z.optional(CsttoolOptionsSchema),
    subjects: z.array(z.unknown()).check(z.minLength(1, "must list at least one subject")),
  })
  .check(
    z.superRefine((m, ctx) => {
    if (m.options !== undefined && m.global_options !== undefined) {
      ctx.addIssue({ code: "custom", path: ["global_options"], message: 'use either "options" or "global_options", not both' });
    }
    }),
  );

export const ManifestSchema = z.intersection(ManifestHeaderSchema, z.object({ subjects: z.array(ManifestSubjectSchema) }));

/** A manifest entry with the spellings unified (ids not yet normalised, paths not yet resolved). */
export interface ManifestSubject {
  id: string;
  session: string | null;
  input: { kind: "nifti"; path: string } | { kind: "dicom"; path: string; series_uid: string | null };
  options: CsttoolOptions;
}

export function unifySubject(s: ManifestSubjectInput): ManifestSubject {
  const input: ManifestSubject["input"] =
    s.nifti !== undefined ? { kind: "nifti", path: s.nifti } : { kind: "dicom", path: s.dicom as string, series_uid: s.series_uid ?? null };
  return { id: (s.id ?? s.subject_id) as string, session: s.session ?? null, input, options: (s.options ?? {}) as CsttoolOptions };
}
