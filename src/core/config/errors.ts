import { ValidationError } from "../errors.ts";
import type { FieldError } from "./field-error.ts";

/** A config text (YAML or JSON) could not be parsed. Names the document and line. */
export class ConfigParseError extends ValidationError {
  override readonly code: string = "ERR_CONFIG_PARSE";
  /** 0-based index of the offending document in the stream. */
  readonly documentIndex: number;
  /** 1-based line in the whole text, when known. */
  readonly line: number | undefined;

  constructor(message: string, where: { documentIndex: number; line?: number }) {
    super(message, { field: `documents[${where.documentIndex}]` });
    this.documentIndex = where.documentIndex;
    this.line = where.line;
  }
}

/**
 * A resource failed validation. `field`/`message` describe the first error;
 * `details` lists all of them (the HTTP layer puts them in `error.details`).
 */
export class ConfigValidationError extends ValidationError {
  override readonly code: string = "ERR_CONFIG_INVALID";
  readonly details: readonly FieldError[];

  /** `prefix` (e.g. `documents[2]`) is prepended to every path. */
  constructor(errors: readonly FieldError[], options?: { prefix?: string }) {
    if (errors.length === 0) throw new TypeError("ConfigValidationError needs at least one error");
    const prefix = options?.prefix;
    const details = errors.map((e) => ({ path: prefix === undefined ? e.path : joinPath(prefix, e.path), message: e.message }));
    const first = details[0]!;
    const more = details.length > 1 ? ` (and ${details.length - 1} more)` : "";
    super(`${first.path}: ${first.message}${more}`, { field: first.path });
    this.details = details;
  }
}

function joinPath(prefix: string, path: string): string {
  if (path === "") return prefix;
  return path.startsWith("[") ? `${prefix}${path}` : `${prefix}.${path}`;
}
