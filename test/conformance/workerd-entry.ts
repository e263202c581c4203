/** A bare worker (no nodejs_compat) that runs the conformance suite on the posted input. */
import { runConformance, type ConformanceInput } from "./suite.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    return Response.json(await runConformance((await request.json()) as ConformanceInput));
  },
};
