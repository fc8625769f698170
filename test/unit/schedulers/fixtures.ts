import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Text of a recorded scheduler output under test/fixtures/schedulers/. */
export function fixture(relative: string): string {
  return readFileSync(fileURLToPath(new URL(`../../fixtures/schedulers/${relative}`, import.meta.url)), "utf8");
}
