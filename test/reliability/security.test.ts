import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, promises as fsp, readFileSync, symlinkSync, watch, writeFileSync } from "node:fs";
import path from "node:path";
import { EXIT } from "../../src/errors.js";
import { writeFileAtomic } from "../../src/util/atomic-write.js";
import { CLI, makeDemoBids, runCli, STANDIN, tempDir } from "../helpers/cli.js";
import { makeStudy } from "../helpers/run-plan.js";
import { runCli as runCliEnv } from "../helpers/run-procs.js";
import { diffTrees, hasStackTrace, snapshotTree } from "../helpers/reliability-fs.js";
import { reportFamily, Tally } from "../helpers/reliability-results.js";

/** Security basics: the user's umask, no writes through planted symlinks, unpredictable temp names. */

describe("reliability: security basics", () => {
  it("security: umask respected, planted symlinks never written through, temp files unpredictable and in place", async (ctx) => {
    const tally = new Tally("security", "held");

    await tally.run("umask 027: nothing group-writable or world-accessible", async () => {
      const dir = tempDir("cst-rel-umask-");
      try {
        const bids = makeDemoBids(path.join(dir, "bids"));
        const out = path.join(dir, "out");
        const cmd = `umask 027 && exec "$0" "$@"`;
        const r = spawnSync("sh", ["-c", cmd, process.execPath, CLI, "submit", "--scheduler", "local", "--bids-dir", bids, "--out", out, "--csttool", STANDIN, "--skip-disk-check"], {
          encoding: "utf8",
          env: { ...process.env, NO_COLOR: "1" },
        });
        if (r.status !== EXIT.OK) throw new Error(`exit ${r.status}: ${r.stderr}`);
        const tree = await snapshotTree(out);
        const bad = [...tree].filter(([, e]) => e.type !== "link" && (e.mode & 0o027) !== 0).map(([k, e]) => `${k} ${(e.mode & 0o777).toString(8)}`);
        if (bad.length) throw new Error(`modes wider than the umask allows: ${bad.slice(0, 8).join(", ")}`);
        if (tree.size < 20) throw new Error("too few files to judge");
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    });

    const plants: Record<string, { rel: string; dir?: boolean; expectCode: number[] }> = {
      "_lock as a symlink": { rel: "sub-01/_lock", expectCode: [EXIT.SYSTEM] },
      "_done.json as a symlink": { rel: "sub-01/_done.json", expectCode: [EXIT.OK] },
      "_work as a symlink to a folder": { rel: "sub-01/_work", dir: true, expectCode: [EXIT.OK] },
      "logs/<key>.log as a symlink": { rel: "logs/sub-01.log", expectCode: [EXIT.OK] },
      "logs/<key>_error.log as a symlink (failing run)": { rel: "logs/sub-01_error.log", expectCode: [EXIT.SUBJECT_FAILED] },
      "logs/<key>.log as a symlink (input missing, no csttool)": { rel: "logs/sub-01.log", expectCode: [EXIT.SUBJECT_FAILED] },
      "batch_summary.json as a symlink": { rel: "batch_summary.json", expectCode: [EXIT.OK] },
      "batch_metrics.csv as a symlink": { rel: "batch_metrics.csv", expectCode: [EXIT.OK] },
    };
    for (const [label, p] of Object.entries(plants)) {
      await tally.run(label, async () => {
        const study = await makeStudy([{ subject: "sub-01" }]);
        try {
          const outside = path.join(study.root, "outside");
          mkdirSync(outside);
          const victim = path.join(outside, p.dir ? "victim-dir" : "victim.txt");
          if (p.dir) mkdirSync(victim);
          else writeFileSync(victim, "precious\n");
          const link = path.join(study.out, p.rel);
          mkdirSync(path.dirname(link), { recursive: true });
          symlinkSync(victim, link);
          if (label.includes("failing")) await study.setBehaviours({ "sub-01": "fail" });
          if (label.includes("input missing")) await fsp.rm((study.plan.tasks[0]!.input as { nifti: string }).nifti);
          const before = await snapshotTree(outside);
          const r = await runCliEnv(["run-one", "--plan", study.planFile, "--index", "0"], study.env);
          if (p.rel.startsWith("batch_")) {
            await fsp.copyFile(study.planFile, path.join(study.out, ".cst-batch", "plan.jsonl"));
            const c = runCli(["collect", "--out", study.out]);
            if (c.code !== EXIT.OK) throw new Error(`collect exit ${c.code}: ${c.stderr}`);
          }
          if (!p.expectCode.includes(r.code ?? -1)) throw new Error(`run-one exit ${r.code}: ${r.stderr}`);
          if (hasStackTrace(r.stderr)) throw new Error("stack trace");
          const changed = diffTrees(before, await snapshotTree(outside));
          if (changed.length) throw new Error(`written through the symlink: ${changed.join(", ")}`);
          if (!p.dir && readFileSync(victim, "utf8") !== "precious\n") throw new Error("the outside file changed");
          if (p.rel === "sub-01/_lock" && !/symbolic link/.test(r.stderr)) throw new Error(`the refusal does not say why: ${r.stderr}`);
        } finally {
          await fsp.rm(study.root, { recursive: true, force: true });
        }
      });
    }

    await tally.run("atomic writes: temp files in the same folder, unpredictable names, none left", async () => {
      const dir = tempDir("cst-rel-tmp-");
      try {
        const seen: string[] = [];
        const w = watch(dir, (_e, name) => {
          if (name && name.endsWith(".tmp")) seen.push(String(name));
        });
        for (let i = 0; i < 20; i++) await writeFileAtomic(path.join(dir, "x.json"), `{"i": ${i}}`);
        await new Promise((r) => setTimeout(r, 200));
        w.close();
        const names = [...new Set(seen)];
        if (names.length < 10) throw new Error(`saw only ${names.length} temp names`);
        if (!names.every((n) => /^\.x\.json\.[0-9a-f]{12}\.tmp$/.test(n))) throw new Error(`predictable or misplaced names: ${names.slice(0, 3).join(", ")}`);
        const left = (await fsp.readdir(dir)).filter((n) => n !== "x.json");
        if (left.length) throw new Error(`left behind: ${left.join(", ")}`);
        // A symlink planted at the final name is replaced, not followed.
        const victim = path.join(dir, "victim");
        writeFileSync(victim, "precious");
        await fsp.rm(path.join(dir, "x.json"));
        symlinkSync(victim, path.join(dir, "x.json"));
        await writeFileAtomic(path.join(dir, "x.json"), "new");
        if (readFileSync(victim, "utf8") !== "precious") throw new Error("wrote through a symlink at the final name");
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    });
    void existsSync;
    reportFamily(ctx, tally.figures());
    expect(tally.failures).toEqual([]);
  }, 300_000);
});
