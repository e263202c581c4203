import { LineCounter, parseAllDocuments } from "yaml";
import { PayloadTooLargeError } from "../errors.ts";
import { ConfigParseError } from "./errors.ts";
import { expandedSize } from "./expanded-size.ts";
import { refuseNonJsonValues } from "./plain-values.ts";

/**
 * Largest size (bytes of JSON) one document may expand to once YAML aliases are resolved, and
 * the largest total over a whole body. Checked on the syntax tree before any expansion.
 */
export const MAX_EXPANDED_DOCUMENT_BYTES = 1024 * 1024;
export const MAX_EXPANDED_TOTAL_BYTES = 4 * 1024 * 1024;

export interface ParseLimits {
  maxDocumentBytes?: number;
  maxTotalBytes?: number;
}

/**
 * Parses a multi-document YAML (or JSON) text into plain values, one per
 * resource. Empty documents are skipped; a `kind: List` document and a
 * top-level JSON/YAML array are flattened into their items.
 * Throws {@link ConfigParseError} naming the document index and line.
 * @example parseDocuments("a: 1\n---\nb: 2") // [{a: 1}, {b: 2}]
 */
export function parseDocuments(text: string, source?: string, limits: ParseLimits = {}): unknown[] {
  const label = source === undefined ? "" : `${source}: `;
  const maxDocument = limits.maxDocumentBytes ?? MAX_EXPANDED_DOCUMENT_BYTES;
  const maxTotal = limits.maxTotalBytes ?? MAX_EXPANDED_TOTAL_BYTES;
  let total = 0;
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    // Fast path for JSON bodies; on a syntax error fall through so YAML reports a line.
    try {
      return flatten(JSON.parse(text) as unknown, 0, label, undefined);
    } catch (err) {
      if (err instanceof ConfigParseError) throw err;
    }
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (!Array.isArray(docs)) return []; // an empty stream
  const out: unknown[] = [];
  docs.forEach((doc, index) => {
    const start = doc.range[0];
    const docLine = lineCounter.linePos(start).line;
    const firstError = doc.errors[0];
    if (firstError !== undefined) {
      const { line, col } = lineCounter.linePos(firstError.pos[0]);
      throw new ConfigParseError(`${label}document ${index} (line ${line}, column ${col}): ${firstLine(firstError.message)}`, { documentIndex: index, line });
    }
    if (doc.contents === null) return;
    const size = expandedSize(doc, Math.max(maxDocument, maxTotal) + 1);
    if (size > maxDocument) {
      throw new PayloadTooLargeError(`${label}document ${index} (line ${docLine}): expands to more than ${maxDocument} bytes once YAML aliases are resolved`, { field: "body" });
    }
    total += size;
    if (total > maxTotal) {
      throw new PayloadTooLargeError(`${label}document ${index} (line ${docLine}): the documents expand to more than ${maxTotal} bytes in all once YAML aliases are resolved`, { field: "body" });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // The library converts recursively: a flow nested thousands deep overflows the stack.
      const why = err instanceof RangeError ? "nested too deeply" : err instanceof Error ? err.message : String(err);
      throw new ConfigParseError(`${label}document ${index} (line ${docLine}): ${why}`, {
        documentIndex: index,
        line: docLine,
      });
    }
    for (const resource of flatten(value, index, label, docLine)) {
      // YAML 1.1 tags (!!set, !!omap, !!timestamp, !!binary) become a Set, Map, Date or bytes: not JSON data.
      refuseNonJsonValues(resource, `documents[${out.length}]`);
      out.push(resource);
    }
  });
  return out;
}

function flatten(value: unknown, index: number, label: string, line: number | undefined): unknown[] {
  const where = line === undefined ? `document ${index}` : `document ${index} (line ${line})`;
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined);
  if (typeof value !== "object") {
    throw new ConfigParseError(`${label}${where}: expected a mapping (a resource), got ${typeof value}`, { documentIndex: index, line });
  }
  const obj = value as Record<string, unknown>;
  if (obj.kind === "List" || (typeof obj.kind === "string" && obj.kind.endsWith("List") && "items" in obj)) {
    if (!Array.isArray(obj.items)) {
      throw new ConfigParseError(`${label}${where}: items: a List needs an items array`, { documentIndex: index, line });
    }
    return obj.items.filter((v) => v !== null && v !== undefined);
  }
  return [obj];
}

/** The library's message without its own trailing position (we print ours). */
function firstLine(message: string): string {
  // The parser recurses into flow collections: thousands of levels overflow its stack.
  if (message.includes("Maximum call stack size exceeded")) return "nested too deeply";
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
}
