import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeDemoBids, REPO, STANDIN, tempDir } from "../helpers/cli.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function npm(args: string[], cwd: string): string {
  const r = spawnSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`npm ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

// The script an outside project would write: the package's named exports, nothing from src/.
const SCRIPT = `
import { plan, collect, readEvents, EXIT, CstError } from "cst-batch";
const [bidsDir, out, csttool] = process.argv.slice(2);
const outcome = await plan({ bidsDir, out, csttool });
const summary = outcome.kind === "planned" ? await collect(out) : null;
console.log(JSON.stringify({
  kind: outcome.kind,
  // The outcome holds the plan's header; its tasks are read when asked for (a study can be 200,000 tasks).
  tasks: outcome.kind === "planned" ? (await outcome.loadPlan()).tasks.length : null,
  taskCount: outcome.kind === "planned" ? outcome.plan.task_count : null,
  collected: summary === null ? null : typeof summary,
  exitOk: EXIT.OK,
  cstError: typeof CstError,
  events: [...readEvents(out)].map((e) => e.record.event),
}));
`;

describe("cst-batch as an installed package", () => {
  it("installs from its npm pack tarball and plans the demo study through `import { plan } from \"cst-batch\"`", () => {
    const dir = tempDir("cst-lib-");
    dirs.push(dir);
    const packDir = path.join(dir, "pack");
    const project = path.join(dir, "project");
    mkdirSync(packDir);
    npm(["pack", "--pack-destination", packDir], REPO);
    const tarball = readdirSync(packDir).find((f) => f.endsWith(".tgz"));
    expect(tarball).toBeDefined();

    mkdirSync(project);
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "uses-cst-batch", private: true, type: "module" }));
    npm(["install", "--prefer-offline", "--ignore-scripts", path.join(packDir, tarball as string)], project);
    writeFileSync(path.join(project, "use.mjs"), SCRIPT);

    const bids = makeDemoBids(path.join(dir, "bids"));
    const out = path.join(dir, "out");
    const r = spawnSync(process.execPath, ["use.mjs", bids, out, STANDIN], { cwd: project, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ kind: "planned", tasks: 4, taskCount: 4, collected: "object", exitOk: 0, cstError: "function", events: ["planned", "collected"] });
  }, 120_000);
});
