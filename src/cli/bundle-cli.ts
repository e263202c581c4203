/**
 * Builds the precompiled CLI: `dist/cli.mjs` (code split: what commands load on demand, the
 * validators and the X.509 stack, lives in chunks, so `strait --help` does not load re2js or
 * @peculiar/x509) and `dist/cli.inputs.json`, which bin/strait.mjs checks. Run by
 * `npm run build:cli` and, with strait-proxy's build, by `prepare` on `npm ci`/`npm install`.
 */
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleEntry } from "../build/bundle-entry.ts";

export function bundleCli(outDir?: string): Promise<{ outfile: string; inputs: string[] }> {
  return bundleEntry({ name: "cli", entry: "src/cli/main.ts", splitting: true, ...(outDir === undefined ? {} : { outDir }) });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outfile, inputs } = await bundleCli(process.argv[2] === undefined ? undefined : resolve(process.argv[2]));
  process.stdout.write(`built ${relative(process.cwd(), outfile)} from ${inputs.length} source files\n`);
}
