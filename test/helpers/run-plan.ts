import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PlanHeaderSchema, type Plan, type PlanTask } from "../../src/schemas/records.js";
import { inputRootOf } from "../../src/plan/plan-format.js";
import { serializePlan, writePlanFileSync } from "../../src/plan/write-plan.js";

/** Test plans for run-one: a temp study with tiny NIfTI inputs and a schema-valid plan file. */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const STANDIN = path.join(REPO_ROOT, "test/fixtures/bin/csttool");
export const CLI = path.join(REPO_ROOT, "bin/cst-batch.js");

export interface SubjectSpec {
  subject: string;
  session?: string | null;
}

export interface TestStudy {
  root: string;
  out: string;
  planFile: string;
  plan: Plan;
  /** Environment for the stand-in (argv log, behaviour config). */
  env: NodeJS.ProcessEnv;
  argvLog: string;
  configFile: string;
  setBehaviours(map: Record<string, string>): Promise<void>;
  /** How many times the stand-in ran `run` (from its argv log). */
  runCount(): Promise<number>;
}

async function identity(file: string): Promise<{ path: string; size: number; mtime_ms: number }> {
  const st = await fsp.stat(file);
  return { path: file, size: st.size, mtime_ms: st.mtimeMs };
}

export async function makeStudy(subjects: SubjectSpec[], opts: { timeoutMinutes?: number; graceSeconds?: number } = {}): Promise<TestStudy> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "cst-run-"));
  const out = path.join(root, "out");
  const inputs = path.join(root, "inputs");
  await fsp.mkdir(inputs, { recursive: true });
  const tasks: PlanTask[] = [];
  for (const [index, s] of subjects.entries()) {
    const session = s.session ?? null;
    const key = session ? `${s.subject}_${session}` : s.subject;
    const nifti = path.join(inputs, `${key}_dwi.nii.gz`);
    const bval = path.join(inputs, `${key}_dwi.bval`);
    const bvec = path.join(inputs, `${key}_dwi.bvec`);
    await fsp.writeFile(nifti, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    await fsp.writeFile(bval, "0 1000\n");
    await fsp.writeFile(bvec, "0 1\n0 0\n0 0\n");
    tasks.push({
      index,
      key,
      subject: s.subject,
      session,
      input: { kind: "nifti", nifti, bval, bvec, json: null, entities: {}, identity: [await identity(nifti), await identity(bval), await identity(bvec)] },
      options: {},
      output_dir: session ? path.join(s.subject, session) : s.subject,
      config_hash: "hash-1",
    });
  }
  const source = { type: "manifest" as const, manifest_path: path.join(root, "manifest.json"), name: null, description: null };
  const plan: Plan = {
    schema_version: 2,
    kind: "cst-batch-plan",
    plan_id: "p-test",
    created_at: new Date().toISOString(),
    cst_batch_version: "0.1.0",
    out_dir: out,
    source,
    csttool: { executable: STANDIN, version: "0.5.0" },
    options: {},
    run: { timeout_minutes: opts.timeoutMinutes ?? 5, grace_seconds: opts.graceSeconds ?? 1 },
    task_count: tasks.length,
    skipped: [],
    input_root: inputRootOf(source),
    tasks,
  };
  const planFile = path.join(out, ".cst-batch", "plans", "p-test.jsonl");
  await fsp.mkdir(path.dirname(planFile), { recursive: true });
  writeTestPlan(planFile, plan);
  const argvLog = path.join(root, "argv.jsonl");
  const configFile = path.join(root, "behaviours.json");
  await fsp.writeFile(configFile, "{}");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CSTTOOL_STANDIN_ARGV_LOG: argvLog,
    CSTTOOL_STANDIN_CONFIG: configFile,
    CSTTOOL_STANDIN_BEHAVIOR: "",
  };
  return {
    root,
    out,
    planFile,
    plan,
    env,
    argvLog,
    configFile,
    async setBehaviours(map) {
      await fsp.writeFile(configFile, JSON.stringify(map));
    },
    async runCount() {
      try {
        const lines = (await fsp.readFile(argvLog, "utf8")).split("\n").filter(Boolean);
        return lines.map((l) => JSON.parse(l) as { argv: string[] }).filter((l) => l.argv[0] === "run").length;
      } catch {
        return 0;
      }
    },
  };
}

/**
 * Write a plan (schema 2: header line, task lines, offsets file) as given, its plan_id kept,
 * through the library's own writer; the header is validated like a planned one.
 */
export function writeTestPlan(file: string, plan: Plan): void {
  const { tasks, schema_version: _v, kind: _k, plan_id, created_at, ...draft } = plan;
  const serialized = serializePlan(draft, tasks);
  PlanHeaderSchema.parse({ ...serialized.header, plan_id, created_at });
  writePlanFileSync(file, { header: { ...serialized.header, plan_id }, lines: serialized.lines }, created_at);
}

/** Update the plan file (e.g. another csttool executable) and write it back. */
export async function rewritePlan(study: TestStudy, edit: (plan: Plan) => void): Promise<void> {
  edit(study.plan);
  writeTestPlan(study.planFile, study.plan);
}
