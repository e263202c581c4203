#!/usr/bin/env node
// Entry point of the `strait` CLI. Runs the precompiled dist/cli.mjs (built by
// `npm ci` / `npm install` through `prepare`, or `npm run build:cli`) when it is
// at least as new as every source it was built from; otherwise registers tsx and
// runs src/cli/main.ts straight from the clone (about 2 s slower per call).
// STRAIT_CLI_TRACE=1 prints which of the two ran, on stderr.
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** dist/cli.mjs when it exists and no source listed in dist/cli.inputs.json is newer, else undefined. */
function prebuilt() {
  const bundle = join(root, "dist/cli.mjs");
  try {
    const built = statSync(bundle).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(join(root, "dist/cli.inputs.json"), "utf8"));
    if (!Array.isArray(inputs) || inputs.length === 0) return undefined;
    for (const input of inputs) if (statSync(join(root, input)).mtimeMs > built) return { stale: input };
    return { bundle };
  } catch {
    return undefined;
  }
}

const found = prebuilt();
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
