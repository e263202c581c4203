/**
 * Precompiles both commands (`strait` and `strait-proxy`) into dist/, so neither compiles
 * TypeScript at start: run by `prepare` on `npm ci`/`npm install` and by `npm run build`.
 */
import { relative } from "node:path";
import { bundleCli } from "../cli/bundle-cli.ts";
import { bundleEntry } from "./bundle-entry.ts";

for (const built of [await bundleCli(), await bundleEntry({ name: "strait-proxy", entry: "src/node-proxy/main.ts", splitting: false })]) {
  process.stdout.write(`built ${relative(process.cwd(), built.outfile)} from ${built.inputs.length} source files\n`);
}
