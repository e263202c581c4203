/** A bare worker (no nodejs_compat) that runs the policy suite on the posted input. */
import { runPolicySuite, type PolicySuiteInput } from "./suite.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    return Response.json(await runPolicySuite((await request.json()) as PolicySuiteInput));
  },
};
