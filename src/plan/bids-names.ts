/** BIDS file names: one pure function turns a name into its entities. */
export const NIFTI_EXTENSIONS = [".nii.gz", ".nii"] as const;

/** `sub-01_ses-1_acq-hb_dwi.nii.gz` -> `sub-01_ses-1_acq-hb_dwi`; null when not a NIfTI name. */
export function niftiStem(name: string): string | null {
  for (const ext of NIFTI_EXTENSIONS) {
    if (name.length > ext.length && name.endsWith(ext)) return name.slice(0, -ext.length);
  }
  return null;
}

/** Whether a file name is a BIDS DWI NIfTI (`*_dwi.nii.gz` or `*_dwi.nii`). */
export function isDwiNiftiName(name: string): boolean {
  const stem = niftiStem(name);
  return stem !== null && stem.endsWith("_dwi") && !name.startsWith(".");
}

/**
 * Entities of a BIDS name other than `sub` and `ses` (acq, dir, run, ...), in name order.
 * Parts without a `key-value` form (the suffix) are ignored.
 */
export function parseBidsEntities(fileName: string): Record<string, string> {
  const stem = niftiStem(fileName) ?? fileName.replace(/\..*$/, "");
  const entities: Record<string, string> = {};
  for (const part of stem.split("_")) {
    const dash = part.indexOf("-");
    if (dash <= 0) continue;
    const key = part.slice(0, dash);
    const value = part.slice(dash + 1);
    if (key === "sub" || key === "ses" || !/^[A-Za-z0-9]+$/.test(key) || value === "") continue;
    entities[key] = value;
  }
  return entities;
}
