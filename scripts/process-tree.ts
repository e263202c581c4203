import { readdirSync, readFileSync } from "node:fs";

/**
 * Every process below `pid` (children, grandchildren, ...), from /proc (Linux); an empty list
 * elsewhere. `npm start` uses it to make sure nothing it started (workerd, esbuild) outlives it.
 */
export function descendantPids(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((n) => /^[0-9]+$/.test(n));
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const name of entries) {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}
