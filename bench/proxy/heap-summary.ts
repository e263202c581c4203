/**
 * What a V8 heap snapshot (`BENCH_HEAP_SNAPSHOT=<dir>` in the proxy benchmark) holds: self size
 * by node type and constructor name, largest first.
 *
 *   node --import tsx bench/proxy/heap-summary.ts <file.heapsnapshot> [--top 25]
 */
import { readFile } from "node:fs/promises";

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function heapByConstructor(h: HeapSnapshot): { key: string; count: number; bytes: number }[] {
  const fields = h.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = h.snapshot.meta.node_types[0];
  const agg = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < h.nodes.length; i += width) {
    const type = types[h.nodes[i + typeAt]!] ?? "?";
    const rawName = h.strings[h.nodes[i + nameAt]!] ?? "";
    // Strings and code are grouped by type; objects by constructor.
    const name = type === "object" || type === "native" || type === "closure" ? rawName.slice(0, 60) : "";
    const key = `${type}${name === "" ? "" : ` ${name}`}`;
    const e = agg.get(key) ?? { count: 0, bytes: 0 };
    e.count += 1;
    e.bytes += h.nodes[i + sizeAt]!;
    agg.set(key, e);
  }
  return [...agg.entries()].map(([key, v]) => ({ key, ...v })).sort((a, b) => b.bytes - a.bytes);
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, "/"))) {
  const args = process.argv.slice(2);
  const ti = args.indexOf("--top");
  const top = ti >= 0 ? Number(args[ti + 1]) : 25;
  for (const file of args.filter((a, i) => a !== "--top" && (ti < 0 || i !== ti + 1))) {
    const rows = heapByConstructor(JSON.parse(await readFile(file, "utf8")) as HeapSnapshot);
    const total = rows.reduce((s, r) => s + r.bytes, 0);
    console.log(`\n${file}: ${(total / 1048576).toFixed(1)} MB live in the V8 heap`);
    for (const r of rows.slice(0, top)) console.log(`  ${(r.bytes / 1048576).toFixed(2).padStart(7)} MB ${String(r.count).padStart(8)}  ${r.key}`);
  }
}
