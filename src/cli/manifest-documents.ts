import { parseDocuments } from "../core/config/parse-documents.ts";
import { isRecord, stringAt } from "./response-shape.ts";
import type { ManifestSource } from "./manifest-sources.ts";

/** One parsed document of a manifest, remembering where it came from. */
export interface ManifestDocument {
  /** File name as given with `-f`, or `<stdin>`. */
  source: string;
  /** 0-based index of the document within its source (after empty documents are skipped). */
  index: number;
  doc: unknown;
}

/** Best-effort `Kind namespace/name` of a raw (possibly invalid) document, for messages. */
export interface DocumentLabel {
  kind: string;
  namespace: string;
  name: string;
}

/** Parses every source with the config model's multi-document parser; a parse error names the source. */
export function parseManifestSources(sources: readonly ManifestSource[]): ManifestDocument[] {
  return sources.flatMap((s) => parseDocuments(s.text, s.name).map((doc, index) => ({ source: s.name, index, doc })));
}

export function labelOf(doc: unknown, defaultNamespace = "default"): DocumentLabel {
  const metadata = isRecord(doc) ? doc.metadata : undefined;
  return {
    kind: stringAt(doc, "kind") ?? "<no kind>",
    namespace: stringAt(metadata, "namespace") ?? defaultNamespace,
    name: stringAt(metadata, "name") ?? "<no name>",
  };
}

/** `VirtualService default/reviews`. */
export function formatLabel(l: DocumentLabel): string {
  return `${l.kind} ${l.namespace}/${l.name}`;
}
