import { stringify as toYaml } from "yaml";
import { isRecord, stringAt } from "./response-shape.ts";

/**
 * Renders the server's per-document dry-run diff as indented lines:
 * `~ path: old -> new`, `+ path: value`, `- path: value`. A diff that is a
 * list of `{path, before|from|old, after|to|new, op?}` entries is rendered
 * line by line; a string is printed as is; anything else as YAML.
 */
export function renderDiff(diff: unknown, indent = "    "): string[] {
  if (diff === undefined || diff === null) return [];
  if (typeof diff === "string") return diff.split("\n").filter((l) => l !== "").map((l) => indent + l);
  const entries = Array.isArray(diff) ? diff : isRecord(diff) && Array.isArray(diff.changes) ? diff.changes : undefined;
  if (entries !== undefined && entries.every((e) => isRecord(e) && typeof e.path === "string")) {
    return entries.flatMap((e) => renderEntry(e as Record<string, unknown>).map((l) => indent + l));
  }
  return toYaml(diff, { lineWidth: 0 })
    .trimEnd()
    .split("\n")
    .map((l) => indent + l);
}

function renderEntry(e: Record<string, unknown>): string[] {
  const path = stringAt(e, "path") ?? "";
  const has = (k: string): boolean => k in e && e[k] !== undefined;
  const beforeKey = ["before", "from", "old", "oldValue"].find(has);
  const afterKey = ["after", "to", "new", "value", "newValue"].find(has);
  const op = stringAt(e, "op") ?? stringAt(e, "operation") ?? stringAt(e, "type");
  const before = beforeKey === undefined ? undefined : e[beforeKey];
  const after = afterKey === undefined ? undefined : e[afterKey];
  if (op === "add" || op === "added" || (beforeKey === undefined && afterKey !== undefined)) return block("+", path, after);
  if (op === "remove" || op === "removed" || op === "delete" || (afterKey === undefined && beforeKey !== undefined)) return block("-", path, before);
  if (isStructured(before) || isStructured(after)) return [...block("-", path, before), ...block("+", path, after)];
  return [`~ ${path}: ${inline(before)} -> ${inline(after)}`];
}

/** `+ path: value`, or for an object/list `+ path:` followed by its YAML, every line marked. */
function block(mark: "+" | "-", path: string, v: unknown): string[] {
  if (!isStructured(v) || isEmpty(v)) return [`${mark} ${path}: ${inline(v)}`];
  const body = toYaml(v, { lineWidth: 0 }).trimEnd().split("\n");
  return [`${mark} ${path}:`, ...body.map((l) => `${mark}   ${l}`)];
}

function isStructured(v: unknown): v is object {
  return typeof v === "object" && v !== null;
}

function isEmpty(v: object): boolean {
  return Object.keys(v).length === 0;
}

function inline(v: unknown): string {
  return v === undefined ? "<none>" : JSON.stringify(v);
}
