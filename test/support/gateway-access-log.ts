/**
 * The edge gateway's JSON access-log lines among what a gateway printed (workerd's stdout captured
 * by Miniflare, or a `deno serve` process's output), for tests that check what was logged.
 */

/** Access-log lines (JSON objects) among what a gateway printed. */
export function accessLogLines(output: Iterable<string>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of output) {
    // stdout and stderr chunks may share a line of the captured output: the log line starts at its first key.
    const i = l.indexOf('{"start_time"');
    if (i < 0) continue;
    try {
      const e = JSON.parse(l.slice(i)) as unknown;
      if (e !== null && typeof e === "object" && "request_id" in e) out.push(e as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return out;
}
