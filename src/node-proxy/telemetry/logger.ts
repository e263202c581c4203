/** Diagnostic log: JSON lines on stderr (the access log owns stdout). */
import type { ProxyLogger } from "../context.ts";

export type LogLevel = "info" | "warn" | "error" | "off";
const ORDER: Record<LogLevel, number> = { info: 0, warn: 1, error: 2, off: 3 };

export function jsonLogger(level: LogLevel = "info", write: (line: string) => void = (l) => process.stderr.write(l)): ProxyLogger {
  const emit = (lvl: Exclude<LogLevel, "off">, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < ORDER[level]) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg: message, ...(fields ?? {}) })}\n`);
  };
  return {
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}
