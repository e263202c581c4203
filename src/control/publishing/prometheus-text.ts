/**
 * Prometheus text exposition (format 0.0.4) of a few gauges. The control worker cannot bundle
 * prom-client (it requires Node's http, zlib and util), and gauges are all it exposes.
 */

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface GaugeFamily {
  name: string;
  help: string;
  samples: { labels?: Record<string, string>; value: number }[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function renderGauges(families: readonly GaugeFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} gauge`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const rendered = labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
      lines.push(`${f.name}${rendered} ${Number.isFinite(s.value) ? String(s.value) : "NaN"}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
