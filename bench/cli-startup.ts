/**
 * How long `strait --help` takes: the precompiled bundle (bin/strait.mjs ->
 * dist/cli.mjs) against compiling the sources with tsx on each run (what every
 * call cost before), with a bare `node -e 0` as the floor. Runs are interleaved
 * so machine load hits all three alike; prints medians and ratios.
 *
 * Usage: node --import tsx bench/cli-startup.ts [rounds=15]
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadavg, cpus } from "node:os";
import { bundleCli } from "../src/cli/bundle-cli.ts";

const root = join(fileURLToPath(import.meta.url), "../..");
const rounds = Number(process.argv[2] ?? 15);
const variants: Record<string, string[]> = {
  "node -e 0 (floor)": ["-e", "0"],
  "strait --help (prebuilt dist/cli.mjs)": ["bin/strait.mjs", "--help"],
  "strait --help (tsx, sources)": ["--import", "tsx", "src/cli/main.ts", "--help"],
};

await bundleCli();
const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let i = 0; i < rounds; i++) {
  for (const [name, args] of Object.entries(variants)) {
    const started = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, STRAIT_CLI_TRACE: "1" }, encoding: "utf8" });
    times[name]!.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (r.status !== 0) throw new Error(`${name}: exit ${r.status}: ${r.stderr}`);
    if (name.includes("prebuilt") && !r.stderr.includes("running the prebuilt")) throw new Error(`dist/cli.mjs was not used (run npm run build:cli): ${r.stderr}`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const tsx = median(times["strait --help (tsx, sources)"]!);
console.log(`${rounds} interleaved rounds, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}, node ${process.version}`);
for (const [name, xs] of Object.entries(times)) {
  const m = median(xs);
  console.log(`${name.padEnd(40)} median ${m.toFixed(0).padStart(5)} ms  min ${Math.min(...xs).toFixed(0).padStart(5)} ms  ${(tsx / m).toFixed(1)}x faster than tsx`);
}
