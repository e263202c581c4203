// Shared by the bin/ launchers: finds dist/<name>.mjs (built by `prepare` on `npm ci`/`npm install`,
// or `npm run build`) when it exists and no source listed in dist/<name>.inputs.json is newer.
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** `{ bundle }` when dist/<name>.mjs is usable, `{ stale }` naming a newer source, or undefined when there is no build. */
export function prebuilt(name) {
  const bundle = join(root, `dist/${name}.mjs`);
  try {
    const built = statSync(bundle).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(join(root, `dist/${name}.inputs.json`), "utf8"));
    if (!Array.isArray(inputs) || inputs.length === 0) return undefined;
    for (const input of inputs) if (statSync(join(root, input)).mtimeMs > built) return { stale: input };
    return { bundle };
  } catch {
    return undefined;
  }
}
