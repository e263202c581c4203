/**
 * Precompiles one entry point of a Strait command into `dist/<name>.mjs` (one ESM file, npm packages
 * left as imports, optional code-split chunks) and `dist/<name>.inputs.json` (the source files it
 * was built from, which the `bin/` launcher checks so an edited source falls back to tsx instead
 * of running stale code). Used for the `strait` CLI and for `strait-proxy`.
 */
import { build } from "esbuild";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface BundleEntryOptions {
  /** Output name: `dist/<name>.mjs`. */
  name: string;
  /** Entry source, relative to the project root. */
  entry: string;
  /** Split what loads on demand into `dist/<name>-chunks/`. */
  splitting: boolean;
  outDir?: string;
}

/** Bundles one entry; returns the output path and the source files it holds. */
export async function bundleEntry(o: BundleEntryOptions): Promise<{ outfile: string; inputs: string[] }> {
  const outDir = o.outDir ?? join(projectRoot, "dist");
  const outfile = join(outDir, `${o.name}.mjs`);
  const result = await build({
    entryPoints: { [o.name]: join(projectRoot, o.entry) },
    outdir: outDir,
    entryNames: "[name]",
    chunkNames: `${o.name}-chunks/[name]-[hash]`,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: o.splitting,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    metafile: true,
    write: false,
    logLevel: "warning",
    banner: { js: `// Built from ${o.entry} by src/build/bundle-entry.ts (npm run build). Do not edit.` },
  });
  // Chunks first (content-hashed names, so an older entry keeps its own), then the entry through a
  // rename: a run at the same moment sees the old build or the new one, never half of one.
  const entry = result.outputFiles.find((f) => resolve(f.path) === outfile);
  if (entry === undefined) throw new Error(`esbuild produced no ${outfile}`);
  for (const f of result.outputFiles) {
    if (f === entry) continue;
    await mkdir(dirname(f.path), { recursive: true });
    await writeFile(f.path, f.contents);
  }
  const tmp = `${outfile}.${process.pid}.tmp`;
  await writeFile(tmp, entry.contents);
  await rename(tmp, outfile);
  const inputs = Object.keys(result.metafile.inputs).map((p) => relative(projectRoot, resolve(projectRoot, p))).sort();
  await writeFile(join(outDir, `${o.name}.inputs.json`), `${JSON.stringify({ inputs }, null, 1)}\n`);
  return { outfile, inputs };
}
