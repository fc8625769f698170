import { describe, expect, it } from "vitest";
import { configHash, configHasher } from "../../../src/plan/hash.js";
import { encodeTaskLine, taskLineEncoder } from "../../../src/plan/plan-format.js";
import { CompactNiftiInput } from "../../../src/plan/compact-input.js";
import type { CsttoolOptions } from "../../../src/schemas/options.js";
import type { PlanTaskLine } from "../../../src/schemas/plan.js";
import type { TaskInput } from "../../../src/schemas/records.js";

// The planner's fast configHash and task-line encoder give exactly what the reference functions give.
const inputs: TaskInput[] = [
  new CompactNiftiInput("/study/sub-01/ses-01/dwi", "sub-01_ses-01_dwi.nii.gz", { run: "1" }, { sizes: [10, 2, 3, 44], mtimes: [1733212345678.123, 5, 6.5, 7] }),
  new CompactNiftiInput("/study/sub-02/dwi", "sub-02_dwi.nii", {}, { sizes: [0, 1, 1, -1], mtimes: [0, 1, 2, 0] }),
  // A folder that needs JSON escaping, and files straight in the root.
  new CompactNiftiInput('/study/sub-05/"q" \\ é\u0001', "sub-05_dwi.nii.gz", {}, { sizes: [1, 2, 3, 4], mtimes: [1.5, 2, 3, 4] }),
  new CompactNiftiInput("/study", "sub-06_dwi.nii.gz", {}, { sizes: [1, 2, 3, -1], mtimes: [1, 2, 3, 0] }),
  {
    kind: "nifti",
    nifti: "/elsewhere/x \"quoted\" é_dwi.nii.gz",
    bval: "/elsewhere/x \"quoted\" é_dwi.bval",
    bvec: "/elsewhere/x \"quoted\" é_dwi.bvec",
    json: null,
    entities: {},
    identity: [
      { path: "/elsewhere/x \"quoted\" é_dwi.nii.gz", size: 1e21, mtime_ms: -0 },
      { path: "/elsewhere/x \"quoted\" é_dwi.bval", size: 1, mtime_ms: 2 },
      { path: "/elsewhere/x \"quoted\" é_dwi.bvec", size: 1, mtime_ms: 2 },
    ],
  },
  {
    kind: "dicom",
    dicom_dir: "/study/sub-03/dcm",
    series_uid: "1.2",
    series: { series_uid: "1.2", series_number: "3", series_description: null, file_count: 2 },
    identity: { file_count: 2, total_size: 20, newest_mtime_ms: 7 },
  },
];
const optionSets: CsttoolOptions[] = [{}, { unring: true, fa_thr: 0.2, target_voxel_size: [2, 2, 2] }, { fa_thr: 0.3, unring: undefined } as CsttoolOptions];

describe("the planner's fast encoders", () => {
  it("configHasher gives configHash's hash for every input kind and options set", () => {
    const hashOf = configHasher("0.5.0");
    for (const options of optionSets) for (const input of inputs) expect(hashOf(options, input)).toBe(configHash(options, input, "0.5.0"));
    // A second use of the same options object (served from its cache) still matches.
    expect(hashOf(optionSets[1] as CsttoolOptions, inputs[0] as TaskInput)).toBe(configHash(optionSets[1] as CsttoolOptions, inputs[0] as TaskInput, "0.5.0"));
  });

  it("taskLineEncoder gives encodeTaskLine's bytes (paths below the root relative, others absolute)", () => {
    for (const root of ["/study", "/study/", "", "/nowhere"]) {
      const encode = taskLineEncoder(root);
      let index = 0;
      for (const options of optionSets) {
        for (const input of inputs) {
          for (const session of ["ses-01", null]) {
            const task: PlanTaskLine = { index: index++, key: `sub-01${session ? "_" + session : ""}`, subject: "sub-01", session, input, options, config_hash: configHash(options, input, "0.5.0") };
            expect(encode(task)).toBe(encodeTaskLine(task, root));
          }
        }
      }
    }
  });
});
