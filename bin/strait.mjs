#!/usr/bin/env node
// Entry point of the `strait` CLI. Runs the precompiled dist/cli.mjs (built by
// `npm ci` / `npm install` through `prepare`, or `npm run build:cli`) when it is
// at least as new as every source it was built from; otherwise registers tsx and
// runs src/cli/main.ts straight from the clone (about 2 s slower per call).
// STRAIT_CLI_TRACE=1 prints which of the two ran, on stderr.
import { pathToFileURL } from "node:url";
import { prebuilt } from "./prebuilt.mjs";

const found = prebuilt("cli");
const trace = process.env.STRAIT_CLI_TRACE === "1";
let run;
if (found?.bundle !== undefined) {
  if (trace) process.stderr.write(`strait: running the prebuilt ${found.bundle}\n`);
  ({ run } = await import(pathToFileURL(found.bundle).href));
} else {
  if (trace) process.stderr.write(`strait: running the sources through tsx (${found?.stale === undefined ? "no dist/cli.mjs" : `${found.stale} is newer than dist/cli.mjs`})\n`);
  const { register } = await import("tsx/esm/api");
  register();
  ({ run } = await import("../src/cli/main.ts"));
}
process.exitCode = await run(process.argv);
