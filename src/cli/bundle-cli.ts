/**
 * Builds the precompiled CLI: `dist/cli.mjs` (one ESM file, npm packages left as
 * imports) and `dist/cli.inputs.json` (the source files it was built from, which
 * bin/strait.mjs checks so an edited source falls back to tsx instead of running
 * stale code). Run by `npm run build:cli` and by `prepare` on `npm ci`/`npm install`.
 */
import { build } from "esbuild";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Bundles src/cli/main.ts into `<outDir>/cli.mjs`; returns the output path and the source files it holds. */
export async function bundleCli(outDir: string = join(root, "dist")): Promise<{ outfile: string; inputs: string[] }> {
  const outfile = join(outDir, "cli.mjs");
  // Code split: what commands load on demand (validators, the X.509 stack) lives in chunks, so
  // `strait --help` does not load re2js or @peculiar/x509.
  const result = await build({
    entryPoints: { cli: join(root, "src/cli/main.ts") },
    outdir: outDir,
    entryNames: "[name]",
    chunkNames: "cli-chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    metafile: true,
    write: false,
    logLevel: "warning",
    banner: { js: "// Built from src/cli by src/cli/bundle-cli.ts (npm run build:cli). Do not edit." },
  });
  // Chunks first (content-hashed names, so an older cli.mjs keeps its own), then the entry through a
  // rename: a CLI run at the same moment sees the old build or the new one, never half of one.
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
  const inputs = Object.keys(result.metafile.inputs).map((p) => relative(root, resolve(root, p))).sort();
  await writeFile(join(outDir, "cli.inputs.json"), `${JSON.stringify({ inputs }, null, 1)}\n`);
  return { outfile, inputs };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outfile, inputs } = await bundleCli(process.argv[2] === undefined ? undefined : resolve(process.argv[2]));
  process.stdout.write(`built ${relative(process.cwd(), outfile)} from ${inputs.length} source files\n`);
}
