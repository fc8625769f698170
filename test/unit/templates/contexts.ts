import type { ArrayScriptContext, CollectScriptContext } from "../../../src/schedulers/types.js";

/** Machine-independent contexts for golden files: fixed node/entry paths, no process.execPath. */
export function plainArrayContext(over: Partial<ArrayScriptContext> = {}): ArrayScriptContext {
  return {
    jobName: "cst-batch",
    logDir: "/data/study/out/logs",
    workDir: "/data/study/out",
    outDir: "/data/study/out",
    resources: { timeSeconds: 7200, memMiB: 4096, cpus: 2, partition: null, account: null, qos: null, gres: null },
    schedulerArgs: [],
    setupLines: [],
    nodeExecutable: "/opt/node-20/bin/node",
    entryScript: "/opt/cst-batch/bin/cst-batch.js",
    submissionFile: "/data/study/out/.cst-batch/submissions/20260101T000000Z.json",
    arraySize: 4,
    throttle: null,
    chunkOffset: 0,
    timeoutMinutes: 90,
    signalWarningSeconds: 300,
    container: null,
    ...over,
  };
}

/** Every optional knob set. */
export function fullArrayContext(over: Partial<ArrayScriptContext> = {}): ArrayScriptContext {
  return plainArrayContext({
    resources: { timeSeconds: 93784, memMiB: 1536, cpus: 4, partition: "short", account: "proj42", qos: null, gres: null },
    throttle: 10,
    chunkOffset: 1000,
    arraySize: 250,
    setupLines: ["module load csttool/1.2", 'source "$HOME/venvs/cst/bin/activate"'],
    container: { image: "/images/csttool_1.2.sif", runtime: "apptainer" },
    ...over,
  });
}

/** Hostile values in every field that is written on a shell line (quoted there). */
export const HOSTILE_DIR = "/data/it's a \"study\"/$(id)/`touch x`/ü ñ;|&";

export function hostileArrayContext(over: Partial<ArrayScriptContext> = {}): ArrayScriptContext {
  return plainArrayContext({
    workDir: HOSTILE_DIR,
    outDir: HOSTILE_DIR,
    entryScript: `${HOSTILE_DIR}/bin/cst-batch.js`,
    nodeExecutable: "/opt/node $HOME/bin/node",
    submissionFile: `${HOSTILE_DIR}/.cst-batch/submissions/a\nb.json`,
    container: { image: "/images/it's $(evil).sif", runtime: "singularity" },
    ...over,
  });
}

export function collectContext(from: ArrayScriptContext): CollectScriptContext {
  return {
    jobName: `${from.jobName}-collect`,
    logDir: from.logDir,
    workDir: from.workDir,
    outDir: from.outDir,
    resources: { ...from.resources, timeSeconds: 1800, memMiB: 2048, cpus: 1, gres: null },
    schedulerArgs: from.schedulerArgs,
    setupLines: from.setupLines,
    nodeExecutable: from.nodeExecutable,
    entryScript: from.entryScript,
    submissionFile: from.submissionFile,
  };
}
