import { ServerError } from "./cli-errors.ts";
import type { ManifestDocument } from "./manifest-documents.ts";

const DOCUMENT_PREFIX = /documents\[(\d+)\]\.?/g;
const COMMAND_LINE_PATH = /documents\[(\d+)\](?:\.[\w.]+)?: /g;

/**
 * Rewrites the server's `documents[3].metadata.name` (an index into the combined
 * request body) to `file.yaml document 1: metadata.name`, so a refusal names the
 * file and document the user wrote.
 */
export function relabelDocumentPaths(err: ServerError, docs: readonly ManifestDocument[]): ServerError {
  // A document built from the command line (`delete KIND NAME`) has no file: its paths say nothing to the user.
  const relabel = (text: string): string =>
    text.replace(COMMAND_LINE_PATH, (whole, i: string) => (docs[Number(i)]?.source === "" ? "" : whole)).replace(DOCUMENT_PREFIX, (whole, i: string) => {
      const d = docs[Number(i)];
      if (d === undefined) return whole;
      return d.source === "" ? "" : `${d.source} document ${d.index}: `;
    });
  return new ServerError(err.status, {
    code: err.code,
    message: relabel(err.message),
    ...(err.field === undefined || fromCommandLine(err.field, docs) ? {} : { field: relabel(err.field) }),
    details: err.details.map((d) => ({ path: relabel(d.path).replace(/: $/, ""), message: d.message })),
  });
}

/** True for a path into a document the CLI built from its arguments (no file to point at). */
function fromCommandLine(path: string, docs: readonly ManifestDocument[]): boolean {
  const m = /^documents\[(\d+)\]/.exec(path);
  return m !== null && docs[Number(m[1])]?.source === "";
}
