import { Option } from "commander";
import { stringify as toYaml } from "yaml";

/** `-o` values: `table` is the default human output; `wide` adds columns. */
export type OutputFormat = "table" | "wide" | "json" | "yaml";

/** The `-o, --output` option shared by every command that prints results. */
export function outputOption(formats: readonly OutputFormat[] = ["json", "yaml", "wide"]): Option {
  return new Option("-o, --output <format>", `output format: ${formats.join("|")} (default: a human table)`).choices(formats);
}

/** Reads `-o` from parsed command options, defaulting to the human table. */
export function outputFormat(opts: { output?: unknown }): OutputFormat {
  const o = opts.output;
  return o === "json" || o === "yaml" || o === "wide" ? o : "table";
}

/** JSON or YAML rendering of any value, newline-terminated. */
export function renderStructured(value: unknown, format: "json" | "yaml"): string {
  return format === "json" ? `${JSON.stringify(value, null, 2)}\n` : toYaml(value, { lineWidth: 0 });
}

/**
 * kubectl-style table: upper-case headers, columns padded and separated by
 * three spaces, no borders. Empty cells print as `<none>`.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((r) => headers.map((_, i) => (r[i] === undefined || r[i] === "" ? "<none>" : r[i]!)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("   ").trimEnd();
  return [line(headers), ...cells.map(line)].map((l) => `${l}\n`).join("");
}

/** Age like kubectl prints it: `45s`, `12m`, `5h`, `3d`, `2y`. */
export function formatAge(from: string | number | undefined, nowMs: number): string {
  if (from === undefined) return "";
  const t = typeof from === "number" ? from : Date.parse(from);
  if (!Number.isFinite(t)) return "";
  const s = Math.max(0, Math.floor((nowMs - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  return d < 730 ? `${d}d` : `${Math.floor(d / 365)}y`;
}

/** ISO-8601 text of a timestamp given as epoch ms, epoch seconds-or-ms number, or a date string. */
export function formatTime(v: unknown): string {
  if (typeof v === "number" && Number.isFinite(v)) return new Date(v < 1e11 ? v * 1000 : v).toISOString();
  if (typeof v === "string") {
    const t = Date.parse(v);
    return Number.isFinite(t) ? new Date(t).toISOString() : v;
  }
  return "";
}
