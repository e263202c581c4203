#!/usr/bin/env node
// Entry point of `strait-proxy`, the node proxy. Runs the precompiled dist/strait-proxy.mjs
// (built by `prepare` on `npm ci` / `npm install`, or `npm run build`) when it is at least as new
// as every source it was built from: no TypeScript compiler in the process (about 45 MB less RSS
// and less CPU). Otherwise registers tsx and runs src/node-proxy/main.ts from the clone.
// STRAIT_PROXY_TRACE=1 prints which of the two ran, on stderr.
import { pathToFileURL } from "node:url";
import { prebuilt } from "./prebuilt.mjs";

const found = prebuilt("strait-proxy");
const trace = process.env.STRAIT_PROXY_TRACE === "1";
let main;
if (found?.bundle !== undefined) {
  if (trace) process.stderr.write(`strait-proxy: running the prebuilt ${found.bundle}\n`);
  ({ main } = await import(pathToFileURL(found.bundle).href));
} else {
  if (trace) process.stderr.write(`strait-proxy: running the sources through tsx (${found?.stale === undefined ? "no dist/strait-proxy.mjs" : `${found.stale} is newer than dist/strait-proxy.mjs`})\n`);
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/node-proxy/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
