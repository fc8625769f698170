import { compile, config, type core } from "zod/mini";
import en from "zod/v4/locales/en.js";

/**
 * The one zod every schema is built with (`import * as z from "./zod.js"`): zod/mini, whose
 * schemas cost about half as much to construct as classic zod's (run-one builds them on every
 * start), with classic's English messages (mini loads no locale by itself).
 */
config(en());

export * from "zod/mini";

const compiledSchemas = new WeakMap<object, unknown>();

/**
 * `schema` with zod's generated parser (`compile`), made once per schema: for readers that parse
 * thousands of records (status, collect, whole plans), where it parses ~4x faster than the
 * plain schema. Failures still go through the plain parser, so the issues are the same.
 * One-shot readers (run-one) keep the plain schema: generating the parser costs more than one parse.
 */
export function forManyRecords<T extends core.SomeType>(schema: T): T {
  let compiled = compiledSchemas.get(schema) as T | undefined;
  if (compiled === undefined) {
    compiled = compile(schema);
    compiledSchemas.set(schema, compiled);
  }
  return compiled;
}
