/** The commented example `cst-batch manifest init` writes (JSONC; `plan --manifest` reads it as is). */
export const EXAMPLE_MANIFEST = `// cst-batch manifest: the subjects of one study and the csttool options to use.
// JSON with comments (// and /* */) and trailing commas allowed.
// Relative paths are resolved against the folder holding this file.
// Check it without running anything:
//   cst-batch plan --manifest THIS_FILE --out /path/to/results
{
  "schema_version": 1,
  "name": "example-study",
  "description": "Corticospinal tract analysis of the example study",

  // Options for every subject (csttool's flags, snake_case; see \`cst-batch plan --help\`).
  // "global_options" is accepted as another spelling. Precedence, highest first:
  // command-line flag > the subject's "options" > these > csttool's defaults.
  "options": {
    "denoise_method": "patch2self",
    "fa_thr": 0.2,
    "save_visualizations": true
  },

  "subjects": [
    // NIfTI: the .bval and .bvec (required) and .json (optional) sit beside the file, same stem.
    { "id": "sub-001", "nifti": "rawdata/sub-001/dwi/sub-001_dwi.nii.gz" },

    // "subject_id" is accepted for "id"; "001" is the same as "sub-001".
    // One entry per subject and session.
    { "id": "sub-002", "session": "ses-01", "nifti": "rawdata/sub-002/ses-01/dwi/sub-002_ses-01_dwi.nii.gz" },
    { "id": "sub-002", "session": "ses-02", "nifti": "rawdata/sub-002/ses-02/dwi/sub-002_ses-02_dwi.nii.gz" },

    // Per-subject overrides win over "options" above.
    {
      "id": "sub-003",
      "nifti": "rawdata/sub-003/dwi/sub-003_acq-multiband_dwi.nii.gz",
      "options": { "denoise_method": "nlmeans", "coil_count": 32, "fa_thr": 0.15 }
    },

    // DICOM: a folder of .dcm files. When it holds several series, "series_uid" picks the DWI
    // series (the plan lists the series it finds if you leave it out).
    {
      "id": "sub-004",
      "dicom": "dicom/sub-004",
      "series_uid": "1.2.840.113619.2.55.3.604688119.969.1268071029.320"
    }
  ]
}
`;
