import type { Finding } from "../core/config/analyze.ts";
import { isRecord, stringAt } from "./response-shape.ts";

/**
 * One analyzer finding as the CLI prints it: the config model's `Finding`, read back
 * from the API, so `resource.kind` is whatever string the server sent.
 */
export type FindingView = Omit<Finding, "resource"> & { resource: Omit<Finding["resource"], "kind"> & { kind: string } };

const LEVEL_RANK = { Error: 0, Warning: 1, Info: 2 } as const;

/** Errors first, then warnings, then info; within a level by resource then code. */
export function sortFindings(findings: readonly FindingView[]): FindingView[] {
  const key = (f: FindingView): string => `${f.resource.kind}/${f.resource.namespace}/${f.resource.name}/${f.code}`;
  return [...findings].sort((a, b) => LEVEL_RANK[a.level] - LEVEL_RANK[b.level] || key(a).localeCompare(key(b)));
}

/** `Error [IST0101] (VirtualService default/reviews) message`, like istioctl analyze. */
export function formatFinding(f: FindingView): string {
  const at = f.field === undefined || f.field === "" || f.message.includes(f.field) ? "" : ` (at ${f.field})`;
  return `${f.level} [${f.code}] (${f.resource.kind} ${f.resource.namespace}/${f.resource.name}) ${f.message}${at}`;
}

/** Reads findings from a `GET /v1/analyze` answer (`{findings: [...]}` or a bare array), dropping malformed entries. */
export function findingsFromResponse(body: unknown): FindingView[] {
  const list = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.findings) ? body.findings : [];
  const out: FindingView[] = [];
  for (const f of list) {
    const level = stringAt(f, "level");
    const code = stringAt(f, "code");
    const message = stringAt(f, "message");
    const resource = isRecord(f) ? f.resource : undefined;
    if (code === undefined || message === undefined || (level !== "Error" && level !== "Warning" && level !== "Info")) continue;
    const field = stringAt(f, "field");
    out.push({
      code,
      level,
      message,
      resource: {
        kind: stringAt(resource, "kind") ?? "",
        namespace: stringAt(resource, "namespace") ?? "",
        name: stringAt(resource, "name") ?? "",
      },
      ...(field === undefined ? {} : { field }),
    });
  }
  return out;
}
