/**
 * Load generators and process accounting for the proxy benchmark: autocannon at a fixed rate
 * (its `overallRate`), wrk at saturation, and CPU time / peak RSS of a process from /proc.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import autocannon from "autocannon";

const run = promisify(execFile);

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  non2xx: number;
}

export interface Target {
  url: string;
  headers: Record<string, string>;
}

export const BODY = "x".repeat(1024);

/** Fixed-rate load (keep-alive, 1 KiB POST bodies). */
export async function fixedRate(t: Target, rps: number, seconds: number): Promise<LoadResult> {
  const r = await autocannon({
    url: t.url,
    method: "POST",
    body: BODY,
    headers: { ...t.headers, "content-type": "application/octet-stream" },
    connections: 16,
    overallRate: rps,
    duration: seconds,
  });
  return { rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, requests: r.requests.total, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

/** `1.23ms` / `456.00us` / `1.2s` -> ms. */
function wrkMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (m === null) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

/** Saturation with wrk (one thread, `connections` keep-alive connections, 1 KiB POST bodies). */
export async function saturate(t: Target, seconds: number, connections = 32): Promise<LoadResult> {
  const script = `/tmp/strait-bench-wrk-${process.pid}.lua`;
  const headerLines = Object.entries({ ...t.headers, "content-type": "application/octet-stream" })
    // wrk fills wrk.headers["Host"] from the URL: a lower-case "host" key would add a second Host
    // header, and which one the proxy sees first would depend on Lua's table order.
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k.toLowerCase() === "host" ? "Host" : k)}] = ${JSON.stringify(v)}`)
    .join("\n");
  // BENCH_WRK_DEBUG=1: wrk prints the first few non-2xx answers (status, flags, body start).
  const debug = process.env.BENCH_WRK_DEBUG === "1"
    ? `shown = 0\nfunction response(status, headers, body)\n  if status >= 300 and shown < 5 then\n    shown = shown + 1\n    io.stderr:write(status .. " " .. tostring(headers["x-envoy-response-flags"]) .. " " .. string.sub(body, 1, 160) .. "\\n")\n  end\nend\n`
    : "";
  await writeFile(script, `wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\n${headerLines}\n${debug}`);
  const { stdout, stderr } = await run("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, t.url], { maxBuffer: 1 << 20 });
  if (stderr.trim() !== "") console.error(`wrk ${t.url}:\n${stderr.trim()}`);
  const num = (re: RegExp) => {
    const m = re.exec(stdout);
    return m === null ? Number.NaN : Number(m[1]);
  };
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(stdout);
    return m === null ? Number.NaN : wrkMs(m[1]!);
  };
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: pct("50"),
    p99Ms: pct("99"),
    requests: num(/(\d+) requests in/),
    errors: errs === null ? 0 : errs.slice(1).reduce((a, b) => a + Number(b), 0),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
  };
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Peak resident set (VmHWM) of a process, MiB. */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}
