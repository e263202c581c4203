import { ValidationError } from "../../core/errors.ts";

/** One requirement of a Kubernetes label selector. */
export type LabelRequirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists" };

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function invalid(why: string): ValidationError {
  return new ValidationError(`labelSelector: ${why}`, { field: "labelSelector" });
}

function checkKey(k: string): string {
  if (!KEY.test(k)) throw invalid(`invalid label key "${k}"`);
  return k;
}

function checkValue(v: string): string {
  if (!VALUE.test(v) || v.length > 63) throw invalid(`invalid label value "${v}"`);
  return v;
}

/** Splits at commas that are not inside `( ... )`. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (depth < 0) throw invalid("unbalanced parenthesis");
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (depth !== 0) throw invalid("unbalanced parenthesis");
  out.push(cur);
  return out.map((t) => t.trim());
}

/**
 * Parses `a=b,c!=d,e,!f,g in (x,y),h notin (z)` (Kubernetes syntax; `==` is `=`).
 * A malformed selector is a ValidationError on field `labelSelector`.
 */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (selector.trim() === "") return [];
  return splitTerms(selector).map((term): LabelRequirement => {
    if (term === "") throw invalid("empty requirement");
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
    if (set !== null) {
      if ((set[3] ?? "").trim() === "") throw invalid(`${set[2]}: the set of values must not be empty`);
      const values = (set[3] ?? "").split(",").map((v) => checkValue(v.trim()));
      return { key: checkKey(set[1] ?? ""), op: set[2] as "in" | "notin", values };
    }
    const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (cmp !== null) {
      return { key: checkKey(cmp[1] ?? ""), op: cmp[2] === "!=" ? "!=" : "=", value: checkValue((cmp[3] ?? "").trim()) };
    }
    if (term.startsWith("!")) return { key: checkKey(term.slice(1).trim()), op: "!exists" };
    return { key: checkKey(term), op: "exists" };
  });
}

/** True when `labels` satisfy every requirement. */
export function matchesSelector(requirements: readonly LabelRequirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => {
    const v = Object.hasOwn(labels, r.key) ? labels[r.key] : undefined;
    switch (r.op) {
      case "=":
        return v === r.value;
      case "!=":
        return v !== r.value;
      case "in":
        return v !== undefined && r.values.includes(v);
      case "notin":
        return v === undefined || !r.values.includes(v);
      case "exists":
        return v !== undefined;
      case "!exists":
        return v === undefined;
    }
  });
}
