import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { referenceFiles } from "../../../src/report/reference.js";
import { OPTION_SPECS } from "../../../src/schemas/options.js";
import { MANIFEST_KEYS, MANIFEST_SUBJECT_KEYS } from "../../../src/schemas/manifest.js";
import { PROFILE_KEYS } from "../../../src/profile/profile.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

describe("generated reference (docs/reference, examples/manifest.jsonc)", () => {
  it("the committed files equal freshly generated ones (run `npm run reference` after changing a schema)", () => {
    for (const [rel, text] of Object.entries(referenceFiles())) {
      const committed = readFileSync(path.join(repo, rel), "utf8");
      expect(committed, `${rel} is out of date: run npm run reference`).toBe(text);
    }
  });

  it("documents every manifest key, option and profile key", () => {
    const files = referenceFiles();
    const manifest = files["docs/reference/manifest.md"]!;
    for (const k of [...MANIFEST_KEYS, ...MANIFEST_SUBJECT_KEYS]) expect(manifest).toContain(`| \`${k}\` |`);
    const options = files["docs/reference/options.md"]!;
    for (const s of OPTION_SPECS) expect(options).toContain(`| \`${s.key}\` |`);
    const profile = files["docs/reference/profile.md"]!;
    for (const k of PROFILE_KEYS) expect(profile).toContain(`| \`${k}\` |`);
    expect(profile).not.toContain("| — |");
  });
});
