/**
 * A bare worker (no nodejs_compat) that runs the config model on a posted
 * config text, so tests can prove it behaves the same in workerd as in Node.
 */
import { analyze } from "../../../../src/core/config/analyze.ts";
import { ConfigParseError } from "../../../../src/core/config/errors.ts";
import { parseDocuments } from "../../../../src/core/config/parse-documents.ts";
import type { AnyResource } from "../../../../src/core/config/resource.ts";
import { validateResource } from "../../../../src/core/config/validate.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    const text = await request.text();
    try {
      const results = parseDocuments(text).map((d) => validateResource(d));
      const resources = results.flatMap((r): AnyResource[] => (r.ok ? [r.resource] : []));
      return Response.json({ results, findings: analyze(resources) });
    } catch (err) {
      if (err instanceof ConfigParseError) return Response.json({ error: err.toJSON(), line: err.line }, { status: 400 });
      throw err;
    }
  },
};
