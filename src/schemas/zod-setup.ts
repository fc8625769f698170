import * as z from "./zod.js";

/**
 * For a process that parses a handful of records and exits (run-one): zod's default compiles a
 * fast parser per object schema on first use, which costs more than it saves for one parse.
 */
export function useOneShotParsing(): void {
  z.config({ jitless: true });
}
