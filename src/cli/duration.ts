import { UsageError } from "./cli-errors.ts";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a `--ttl`-style duration into whole seconds: `90s`, `10m`, `24h`,
 * `7d`, combinations like `1h30m`, or a bare number of seconds.
 *
 * @example parseDurationSeconds("1h30m", "--ttl") // 5400
 */
export function parseDurationSeconds(text: string, flag: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return positive(Number(t), text, flag);
  if (!/^(\d+[smhd])+$/.test(t)) {
    throw new UsageError(`${flag}: not a duration: ${JSON.stringify(text)} (use e.g. 90s, 10m, 24h, 7d, 1h30m)`, { field: flag });
  }
  let total = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)([smhd])/g)) total += Number(n) * UNIT_SECONDS[unit!]!;
  return positive(total, text, flag);
}

/** Like {@link parseDurationSeconds}, and refused (naming `flag` and the limit) outside `[min, max]` seconds. */
export function parseDurationWithin(text: string, flag: string, range: { minSeconds: number; maxSeconds: number }, fmt: (s: number) => string): number {
  const n = parseDurationSeconds(text, flag);
  if (n < range.minSeconds || n > range.maxSeconds) {
    throw new UsageError(`${flag}: must be between ${fmt(range.minSeconds)} and ${fmt(range.maxSeconds)}, got ${JSON.stringify(text)}`, { field: flag });
  }
  return n;
}

function positive(n: number, text: string, flag: string): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag}: must be greater than zero, got ${JSON.stringify(text)}`, { field: flag });
  return n;
}
