/**
 * Durations in Istio config: protobuf JSON (`"1.5s"`) and the Go forms the
 * CRDs accept (`"100ms"`, `"1m30s"`, `"1h"`). Runtime-free.
 */

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, "µs": 0.001, ns: 0.000001 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;

/**
 * Milliseconds in a duration string, or `undefined` if it is not one.
 * @example parseDurationMs("1.5s") === 1500
 */
export function parseDurationMs(text: string): number | undefined {
  if (text === "") return undefined;
  let total = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (m === null) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = PART.lastIndex;
  }
  return total;
}
