import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

/**
 * The one zod every schema is built with (`import * as z from "./zod.js"`): zod/mini, whose
 * schemas cost about half as much to construct as classic zod's (run-one builds them on every
 * start), with classic's English messages (mini loads no locale by itself).
 */
config(en());

export * from "zod/mini";
