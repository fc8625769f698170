import { promises as fsp } from "node:fs";
import { readPlanFile } from "../../helpers/plan-file.js";
import { csttoolArgv } from "../../../src/run/csttool-argv.js";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../../src/cli/main.js";
import { EXAMPLE_MANIFEST } from "../../../src/plan/example-manifest.js";
import { EXIT } from "../../../src/errors.js";
import { makeBidsDataset, makeTempDir } from "../../helpers/plan-bids-maker.js";
import { makeVersionOnlyCsttool } from "../../helpers/plan-fake-csttool.js";

let tmp: string;
let csttool: string;
let bids: string;
let n = 0;

beforeAll(async () => {
  tmp = await makeTempDir("cst-plan-cli-");
  csttool = await makeVersionOnlyCsttool(path.join(tmp, "bin"));
  bids = await makeBidsDataset(path.join(tmp, "bids"), [{ id: "sub-01" }, { id: "sub-02" }, { id: "sub-03", sessions: ["ses-1"] }]);
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(["node", "cst-batch", ...args]);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

const out = (): string => path.join(tmp, `out${n++}`);

describe("cst-batch plan", () => {
  it("plans a BIDS folder and prints the outcome as JSON with --json", async () => {
    const o = out();
    const r = await run("plan", "--bids-dir", bids, "--out", o, "--csttool", csttool, "--json");
    expect(r.code).toBe(EXIT.OK);
    const json = JSON.parse(r.stdout);
    expect(json.kind).toBe("planned");
    expect(json.preview.task_count).toBe(3);
    expect(json.planPath).toBe(path.join(o, ".cst-batch", "plans", `${json.preview.plan_id}.jsonl`));
    await expect(fsp.stat(json.planPath)).resolves.toBeTruthy();
  });

  it("prints a human preview on stderr and nothing on stdout without --json", async () => {
    const r = await run("plan", "--bids-dir", bids, "--out", out(), "--csttool", csttool);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("sub-03_ses-1");
  });

  it("exits 3 with every problem (JSON) when preflight fails", async () => {
    const r = await run("plan", "--bids-dir", bids, "--out", out(), "--csttool", path.join(tmp, "missing-csttool"), "--fa-thr", "3", "--json");
    expect(r.code).toBe(EXIT.PREFLIGHT);
    const json = JSON.parse(r.stdout);
    expect(json.kind).toBe("problems");
    expect(json.problems.map((p: { category: string }) => p.category).sort()).toEqual(["csttool", "options"]);
  });

  it("exits 2 on bad usage: no source, both sources, non-numeric values, wrong voxel count", async () => {
    expect((await run("plan", "--out", out(), "--csttool", csttool)).code).toBe(EXIT.USAGE);
    expect((await run("plan", "--bids-dir", bids, "--manifest", "m.json", "--out", out())).code).toBe(EXIT.USAGE);
    expect((await run("plan", "--bids-dir", bids, "--out", out(), "--fa-thr", "abc")).code).toBe(EXIT.USAGE);
    expect((await run("plan", "--bids-dir", bids, "--out", out(), "--target-voxel-size", "2", "2")).code).toBe(EXIT.USAGE);
    expect((await run("plan", "--bids-dir", bids, "--out", out(), "--timeout-minutes", "0")).code).toBe(EXIT.USAGE);
    expect((await run("plan", "--bids-dir", bids, "--out", out(), "--denoise-method", "bogus")).code).toBe(EXIT.USAGE);
  });

  it("maps option flags: --no-X, --csttool-verbose, voxel triples, fractional timeout, repeatable --include", async () => {
    const r = await run(
      "plan", "--bids-dir", bids, "--out", out(), "--csttool", csttool, "--json",
      "--no-unring", "--csttool-verbose", "--target-voxel-size", "2", "2", "2.5", "--denoise-method", "nlmeans", "--coil-count", "8",
      "--timeout-minutes", "0.5", "--grace-seconds", "5", "--include", "01", "--include", "sub-03",
    );
    expect(r.code).toBe(EXIT.OK);
    const plan = readPlanFile(JSON.parse(r.stdout).planPath);
    expect(plan.options).toEqual({ denoise_method: "nlmeans", unring: false, target_voxel_size: [2, 2, 2.5], coil_count: 8, verbose: true });
    expect(plan.run).toEqual({ timeout_minutes: 0.5, grace_seconds: 5 });
    expect(plan.tasks.map((t: { key: string }) => t.key)).toEqual(["sub-01", "sub-03_ses-1"]);
    const argv = csttoolArgv(plan.csttool.executable, plan.tasks[0]!, "/study/sub-01");
    expect(argv.slice(argv.indexOf("--denoise-method"))).toEqual(["--denoise-method", "nlmeans", "--target-voxel-size", "2", "2", "2.5", "--coil-count", "8", "--verbose"]);
  });

  it("shows examples in --help", async () => {
    const r = await run("plan", "--help");
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain("Examples:");
    expect(r.stdout).toContain("--no-unring");
    expect(r.stdout).toContain("--csttool-verbose");
  });
});

describe("cst-batch manifest init", () => {
  it("prints the example to stdout without a file", async () => {
    const r = await run("manifest", "init");
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toBe(EXAMPLE_MANIFEST);
  });

  it("writes a file, refuses to overwrite it without --force", async () => {
    const file = path.join(tmp, "study.jsonc");
    expect((await run("manifest", "init", file)).code).toBe(EXIT.OK);
    expect(await fsp.readFile(file, "utf8")).toBe(EXAMPLE_MANIFEST);
    await fsp.writeFile(file, "mine");
    expect((await run("manifest", "init", file)).code).toBe(EXIT.USAGE);
    expect(await fsp.readFile(file, "utf8")).toBe("mine");
    expect((await run("manifest", "init", file, "--force")).code).toBe(EXIT.OK);
    expect(await fsp.readFile(file, "utf8")).toBe(EXAMPLE_MANIFEST);
  });
});
