/**
 * The control plane's limits the CLI states in `--help` and checks before sending,
 * so a bad value is refused with the flag's name. They mirror the server's
 * constants (test/cli/limits.test.ts keeps them equal); the server still enforces its own.
 */
export const API_TOKEN_TTL = { defaultSeconds: 30 * 86400, minSeconds: 60, maxSeconds: 365 * 86400 } as const;
export const JOIN_TOKEN_TTL = { defaultSeconds: 600, minSeconds: 1, maxSeconds: 86400 } as const;
/** `apply --wait` without a value; the server caps any wait at PUBLISH_WAIT_MAX_SECONDS (default 120). */
export const DEFAULT_APPLY_WAIT_SECONDS = 30;
export const DEFAULT_PUBLISH_WAIT_MAX_SECONDS = 120;

/** `30d`, `10m`, `1h30m` for a number of seconds. */
export function formatSeconds(total: number): string {
  const parts: string[] = [];
  let rest = total;
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.length === 0 ? "0s" : parts.join("");
}
