import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { clearTemplateCache, PACKAGED_TEMPLATE_DIR, TEMPLATE_HELPERS } from "../../../src/schedulers/render.js";
import { slurmBackend } from "../../../src/schedulers/slurm.js";
import { plainArrayContext } from "./contexts.js";

function templateFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? templateFiles(full) : name.endsWith(".hbs") ? [full] : [];
  });
}

describe("packaged templates never interpolate a raw value", () => {
  const files = templateFiles(PACKAGED_TEMPLATE_DIR);

  it("finds the templates of all four dialects and the partials", () => {
    const rel = files.map((f) => path.relative(PACKAGED_TEMPLATE_DIR, f)).sort();
    for (const t of ["slurm/array.sh.hbs", "slurm/collect.sh.hbs", "pbs/array.sh.hbs", "pbs/collect.sh.hbs", "torque/array.sh.hbs", "torque/collect.sh.hbs", "lsf/array.sh.hbs", "lsf/collect.sh.hbs"]) {
      expect(rel).toContain(t);
    }
  });

  it.each(files.map((f) => [path.relative(PACKAGED_TEMPLATE_DIR, f), f]))("%s: every mustache is a block, partial or q/num/raw/dq helper", (_rel, file) => {
    const src = readFileSync(file, "utf8");
    expect(src).not.toMatch(/\{\{\{/); // triple-stash bypasses nothing here (noEscape) but signals raw intent
    const offending: string[] = [];
    for (const m of src.matchAll(/\{\{~?\s*([^}]*?)\s*~?\}\}/g)) {
      const body = m[1] ?? "";
      if (/^[#/>!]/.test(body) || body === "else") continue;
      const helper = body.split(/\s+/)[0] ?? "";
      if (!(TEMPLATE_HELPERS as readonly string[]).includes(helper)) offending.push(m[0]);
    }
    expect(offending).toEqual([]);
  });

  it("every template starts with #!/bin/bash and sets -euo pipefail", () => {
    for (const f of files.filter((f) => !f.includes(`${path.sep}partials${path.sep}`))) {
      const src = readFileSync(f, "utf8");
      expect(src.startsWith("#!/bin/bash\n"), f).toBe(true);
      expect(src, f).toMatch(/\{\{> preamble\}\}/);
    }
    expect(readFileSync(path.join(PACKAGED_TEMPLATE_DIR, "partials/preamble.hbs"), "utf8")).toMatch(/^set -euo pipefail$/m);
  });
});

describe("--template-dir", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cst-tpl-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    clearTemplateCache();
  });

  it("a user copy of a template replaces the packaged one; missing files fall back", () => {
    mkdirSync(path.join(dir, "slurm"), { recursive: true });
    writeFileSync(path.join(dir, "slurm/array.sh.hbs"), "#!/bin/bash\n#SBATCH --job-name={{q jobName}}\n#SITE custom\n{{> preamble}}\n");
    const out = slurmBackend.renderArrayScript(plainArrayContext({ jobName: "a b" }), { templateDir: dir });
    expect(out).toContain("#SBATCH --job-name='a b'\n#SITE custom\n");
    expect(out).toContain("set -euo pipefail"); // partial from the packaged folder
    const collect = slurmBackend.renderCollectScript({ ...plainArrayContext() }, { templateDir: dir });
    expect(collect).toContain(" collect --out /data/study/out");
  });

  it("a template using an unknown variable fails with a USAGE error naming the template", () => {
    mkdirSync(path.join(dir, "bad/slurm"), { recursive: true });
    writeFileSync(path.join(dir, "bad/slurm/array.sh.hbs"), "#!/bin/bash\n{{q noSuchVariable}}\n");
    expect(() => slurmBackend.renderArrayScript(plainArrayContext(), { templateDir: path.join(dir, "bad") })).toThrow(
      /slurm\/array\.sh\.hbs.*failed to render: helper q at line 2.*undefined/s,
    );
  });
});
