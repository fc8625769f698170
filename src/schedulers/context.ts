import { CstError } from "../errors.js";
import { assertAbsolutePath } from "./render.js";
import { assertDirectiveValue, assertNoNul, assertSingleLine } from "../shell/shell-quote.js";
import type { ArrayScriptContext, ScriptContextBase } from "./types.js";

/**
 * Checks shared by every dialect, and the part of the template view that does not depend on the
 * dialect. Dialect modules add their directive values on top (see templates/README.md).
 */
export function validateBaseContext(ctx: ScriptContextBase): void {
  assertDirectiveValue(ctx.jobName, "job name");
  if (ctx.jobName === "") throw new CstError("USAGE", "the job name is empty");
  for (const [what, value] of [
    ["log folder", ctx.logDir],
    ["working folder", ctx.workDir],
    ["node executable", ctx.nodeExecutable],
    ["cst-batch entry script", ctx.entryScript],
    ["submission file", ctx.submissionFile],
    ["output folder", ctx.outDir],
  ] as const) {
    assertAbsolutePath(value, what);
  }
  assertDirectiveValue(ctx.logDir, "log folder");
  for (const line of ctx.setupLines) assertSingleLine(line, "setup line");
  for (const arg of ctx.schedulerArgs) assertSingleLine(arg, "--scheduler-arg value");
  const r = ctx.resources;
  assertPositiveInt(r.timeSeconds, "--time (seconds)");
  assertPositiveInt(r.memMiB, "--mem (MiB)");
  assertPositiveInt(r.cpus, "--cpus");
  for (const [what, value] of [
    ["--partition", r.partition],
    ["--account", r.account],
    ["--qos", r.qos],
    ["--gres", r.gres],
  ] as const) {
    if (value !== null) {
      assertDirectiveValue(value, what);
      if (value === "") throw new CstError("USAGE", `${what} is empty`, { hint: `omit ${what} or give a value` });
    }
  }
}

export function validateArrayContext(ctx: ArrayScriptContext): void {
  validateBaseContext(ctx);
  assertPositiveInt(ctx.arraySize, "array size");
  if (ctx.throttle !== null) assertPositiveInt(ctx.throttle, "--max-running");
  if (ctx.throttleNote) assertSingleLine(ctx.throttleNote, "throttle note");
  assertNonNegativeInt(ctx.chunkOffset, "chunk offset");
  assertNonNegativeInt(ctx.signalWarningSeconds, "signal warning seconds");
  if (!(typeof ctx.timeoutMinutes === "number" && Number.isFinite(ctx.timeoutMinutes) && ctx.timeoutMinutes > 0)) {
    throw new CstError("USAGE", `--timeout-minutes must be a number above zero, found ${String(ctx.timeoutMinutes)}`);
  }
  if (ctx.container) {
    assertNoNul(ctx.container.image, "container image");
    if (ctx.container.image === "") throw new CstError("USAGE", "--container: the image path is empty");
  }
}

/** The dialect-independent part of the view: names documented in templates/README.md. */
export function baseView(ctx: ScriptContextBase): Record<string, unknown> {
  return {
    jobName: ctx.jobName,
    logDir: ctx.logDir,
    workDir: ctx.workDir,
    outDir: ctx.outDir,
    setupLines: ctx.setupLines,
    schedulerArgs: ctx.schedulerArgs,
    nodeExecutable: ctx.nodeExecutable,
    entryScript: ctx.entryScript,
    submissionFile: ctx.submissionFile,
    cpus: ctx.resources.cpus,
  };
}

/** View fields of an array script shared by every dialect (the run-one partial uses them). */
export function arrayRunView(ctx: ArrayScriptContext): Record<string, unknown> {
  return {
    arraySize: ctx.arraySize,
    lastIndex: ctx.arraySize - 1,
    chunkOffset: ctx.chunkOffset,
    throttleNote: ctx.throttleNote ?? null,
    timeoutMinutes: ctx.timeoutMinutes,
    /** Extra run-one arguments, each quoted by the template. */
    runOneExtraArgs: [
      ...(ctx.container ? ["--container-runtime", ctx.container.runtime, "--container-image", ctx.container.image] : []),
      ...(ctx.adoptExisting ? ["--adopt-existing"] : []),
    ],
  };
}

export function assertPositiveInt(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new CstError("USAGE", `${what} must be a whole number above zero, found ${String(value)}`);
  }
}

export function assertNonNegativeInt(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CstError("USAGE", `${what} must be a whole number >= 0, found ${String(value)}`);
  }
}
