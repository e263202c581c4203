/**
 * CPU time of a process from /proc/<pid>/stat (user + system, all threads), and the workerd
 * processes a Miniflare started. CPU milliseconds per request stay meaningful on a shared,
 * loaded machine, where requests per second mostly measure what the neighbours do.
 */
import { readdir, readFile } from "node:fs/promises";

/** Linux's USER_HZ: /proc reports CPU time in 1/100 s on every mainstream build. */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of `pid` in milliseconds (10 ms resolution). */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name may contain spaces and parentheses: fields start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** Pids of this process's `workerd` children (Miniflare spawns one per instance). */
export async function workerdChildren(): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === process.pid && comm.startsWith("workerd")) out.push(Number(entry));
  }
  return out;
}
